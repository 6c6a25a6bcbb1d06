// Package redact hides passwords in store URLs, DSNs and other URL-like
// configuration values before they reach a log line, an error message or
// printed configuration. It is the one redactor of the module: the server,
// the config package and the stores all call URL, so the rule cannot drift
// between copies. Standard library only, so any package may import it.
package redact
