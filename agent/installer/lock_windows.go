//go:build windows

package installer

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

func lockExclusive(f *os.File) error {
	var ol windows.Overlapped
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if err != nil {
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return ErrBusy
		}
		return fmt.Errorf("installer lock: %w", err)
	}
	return nil
}
