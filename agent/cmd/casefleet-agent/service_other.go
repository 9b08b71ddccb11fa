//go:build !windows

package main

import "context"

// runMain runs the command line. Outside Windows there is no service
// manager to talk to: systemd runs the agent as a plain process, reads its
// logs from stdout and stderr, and stops it with SIGTERM, which run handles.
func runMain(args []string, run func(context.Context, []string) int) int {
	return run(context.Background(), args)
}
