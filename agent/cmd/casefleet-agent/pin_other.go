//go:build !linux && !windows

package main

import (
	"io"
	"os"
)

// readHidden: no echo control here, so no prompt; --operator-pin sets the
// PIN instead.
func readHidden(*os.File, io.Writer, string) (string, bool, error) { return "", false, nil }

func isTerminal(*os.File) bool { return false }
