// Package account holds sessiond's users and how they sign in: the User type
// and the Store interface every backend implements, password hashing with
// argon2id, the password policy, email normalisation, and the Service that
// authenticates a login with rate limits, lockout and no user enumeration.
package account
