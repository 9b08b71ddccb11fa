//go:build unix

package config

import (
	"os"
	"syscall"
)

// keepOwner gives f the owner and group of the file old describes.
func keepOwner(f *os.File, old os.FileInfo) error {
	st, ok := old.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return f.Chown(int(st.Uid), int(st.Gid))
}
