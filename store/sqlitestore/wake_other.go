//go:build !linux

package sqlitestore

import "errors"

// watchWAL is only implemented on Linux (inotify); elsewhere the watcher
// polls at Options.ChangePollIdle.
func watchWAL(string) (<-chan struct{}, func() error, error) {
	return nil, nil, errors.New("sqlitestore: watch: not supported on this platform")
}
