// Package archtest holds the test that keeps docs/ARCHITECTURE.md true: each
// package may import only what its row in the table below allows.
package archtest
