package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// readHidden shows prompt on out and reads a line from the terminal f with
// echo off, so a PIN typed in is not shown (nor left in the scrollback).
// Echo goes off before the prompt: nothing typed after it is shown. ok is
// false when f is not a terminal.
func readHidden(f *os.File, out io.Writer, prompt string) (line string, ok bool, err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", false, nil
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	quiet.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", true, err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	fmt.Fprint(out, prompt)
	line, err = readLine(f)
	fmt.Fprintln(out) // the Enter typed was not shown either
	return line, true, err
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
