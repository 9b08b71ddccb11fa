//go:build !windows

package installer

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func lockExclusive(f *os.File) error {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return ErrBusy
		}
		return fmt.Errorf("installer lock: %w", err)
	}
	return nil
}
