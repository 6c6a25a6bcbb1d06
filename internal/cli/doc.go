// Package cli is the sessiond command line: serve, user, session, migrate
// and version. Main holds the process's inputs and outputs so that tests run
// the real commands in process, on port 0.
package cli
