package installer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrBusy is wrapped when another installer holds the work directory.
var ErrBusy = errors.New("another update-install is running")

// lockFile is the installer's lock in its work directory. The operating
// system lets go of it when the process ends however it ends (a crash, a
// power cut), so a stale lock never blocks the next run.
const lockFile = "lock"

// LockWork takes the work directory's lock, or fails with ErrBusy at once
// when another installer holds it. release lets go of it.
func LockWork(work string) (release func(), err error) {
	f, err := os.OpenFile(filepath.Join(work, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("installer lock: %w", err)
	}
	if err := lockExclusive(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// Busy reports whether an installer holds the work directory now: the
// agent asks before it starts one to finish a job (Windows, at start).
func Busy(work string) bool {
	if _, err := os.Stat(filepath.Join(work, lockFile)); err != nil {
		return false
	}
	release, err := LockWork(work)
	if err != nil {
		return errors.Is(err, ErrBusy)
	}
	release()
	return false
}
