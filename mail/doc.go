// Package mail delivers sessiond's account emails — email verification,
// password recovery, sign-up and security notices — through an SMTP relay,
// without losing a message to a relay outage or a restart. Templates renders
// a plain-text and an HTML body from embedded templates an operator can
// override from a directory; a rendered Message goes into a durable Outbox
// (the memory one here, the SQLite and PostgreSQL ones in the stores, all held
// to mailtest.RunOutbox); a Dispatcher claims due messages under a lease,
// hands them to a Sender (SMTP through wneessen/go-mail, or Log for --dev)
// and retries temporary failures with capped exponential backoff and jitter
// until it gives up. A message is sent at most once per successful relay
// answer: the lease keeps two dispatchers from sending the same message at
// once, and a message the relay accepted is never claimed again. Passwords
// never reach a log; message bodies, which hold single-use links, leave the
// outbox once sent.
package mail
