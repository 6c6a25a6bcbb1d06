// Package sqlitestore is sessiond's embedded store: users, sessions and the
// rest in one SQLite database (pure Go, modernc.org/sqlite), so a single
// machine needs nothing else installed.
//
// The database runs in WAL mode with synchronous=FULL: anything a client has
// been told succeeded survives a crash of the process or the machine. Writes
// go through one connection per process and reads through a small pool;
// several processes (the server and the CLI) may open the same file at once,
// waiting on SQLite's lock for up to BusyTimeout. Schema migrations are
// embedded and applied with goose when the store opens.
package sqlitestore
