package sqlitestore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"
)

// watchWAL reports, on the returned channel, writes to the WAL file of the
// database at path by any process (inotify on its directory, so a WAL
// recreated by another process is still seen). A write to the WAL comes
// before its commit is visible (frames, fsync, then the WAL-index header),
// so a wake only tells the watcher to poll fast for a while. The returned
// closer stops it.
func watchWAL(path string) (<-chan struct{}, func() error, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlitestore: watch: %w", err)
	}
	dir, name := filepath.Split(path)
	if _, err := syscall.InotifyAddWatch(fd, filepath.Clean(dir), syscall.IN_MODIFY|syscall.IN_CREATE|syscall.IN_MOVED_TO); err != nil {
		syscall.Close(fd)
		return nil, nil, fmt.Errorf("sqlitestore: watch: %w", err)
	}
	f := os.NewFile(uintptr(fd), "inotify") // non-blocking: reads go through the poller, Close ends them
	wal := []byte(name + "-wal")
	wake := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 16*(syscall.SizeofInotifyEvent+syscall.NAME_MAX+1))
		for {
			n, err := f.Read(buf)
			if err != nil {
				if !errors.Is(err, os.ErrClosed) {
					select { // let the watcher fall back to polling
					case wake <- struct{}{}:
					default:
					}
				}
				return
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				end := off + syscall.SizeofInotifyEvent + int(ev.Len)
				if end > n {
					break
				}
				evName := bytes.TrimRight(buf[off+syscall.SizeofInotifyEvent:end], "\x00")
				if bytes.Equal(evName, wal) || ev.Mask&syscall.IN_Q_OVERFLOW != 0 {
					select {
					case wake <- struct{}{}:
					default:
					}
				}
				off = end
			}
		}
	}()
	return wake, f.Close, nil
}
