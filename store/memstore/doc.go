// Package memstore is an in-memory sessiond store: sessions, users and the
// rest, in maps behind a mutex. It is for tests and for Go programs that embed
// sessiond's library and accept losing every session on restart. It passes
// the same conformance suite (store/storetest) as the durable stores.
package memstore
