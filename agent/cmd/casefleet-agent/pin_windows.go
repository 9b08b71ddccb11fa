package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/windows"
)

// readHidden shows prompt on out and reads a line from the console f with
// echo off, so a PIN typed in is not shown. ok is false when f is not a
// console.
func readHidden(f *os.File, out io.Writer, prompt string) (line string, ok bool, err error) {
	h := windows.Handle(f.Fd())
	var old uint32
	if err := windows.GetConsoleMode(h, &old); err != nil {
		return "", false, nil
	}
	quiet := old&^windows.ENABLE_ECHO_INPUT | windows.ENABLE_PROCESSED_INPUT | windows.ENABLE_LINE_INPUT
	if err := windows.SetConsoleMode(h, quiet); err != nil {
		return "", true, err
	}
	defer windows.SetConsoleMode(h, old)
	fmt.Fprint(out, prompt)
	line, err = readLine(f)
	fmt.Fprintln(out)
	return line, true, err
}

func isTerminal(f *os.File) bool {
	var mode uint32
	return windows.GetConsoleMode(windows.Handle(f.Fd()), &mode) == nil
}
