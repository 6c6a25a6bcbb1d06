// Package storetest is the conformance suite every sessiond store runs:
// memory, SQLite, Redis (single and Cluster) and PostgreSQL. A backend's
// test calls the Run functions with a constructor for a fresh, empty store;
// the same assertions then hold for every backend, so a behaviour that one
// store gets right cannot silently differ in another.
package storetest
