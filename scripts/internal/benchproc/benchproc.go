// Package benchproc runs the real binaries of a bench (scripts/journey,
// scripts/tunnelbench) as processes on loopback: each with its output in
// a log file, in a process group of its own, killed whole when the bench
// stops. The tests have shared/testenv for this; it reports to a
// *testing.T, which a program has not.
package benchproc

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Proc is a running process.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
}

// Group is the processes of one bench, their logs in Dir.
type Group struct {
	Dir   string
	procs []*Proc
}

// Start runs path with args, the environment plus env, its output in
// Dir/name.log.
func (g *Group) Start(name, path string, env []string, args ...string) (*Proc, error) {
	logPath := filepath.Join(g.Dir, name+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		log.Close()
		close(p.done)
	}()
	slog.Debug("started", "process", name, "pid", cmd.Process.Pid, "log", logPath)
	g.procs = append(g.procs, p)
	return p, nil
}

// Stop kills the process and waits until it is gone: a bench keeps no
// state worth a graceful stop.
func (p *Proc) Stop() {
	killProcessGroup(p.Cmd)
	<-p.done
}

// Stop stops the processes, the last started first.
func (g *Group) Stop() {
	for i := len(g.procs) - 1; i >= 0; i-- {
		g.procs[i].Stop()
	}
	g.procs = nil
}

// Exited reports a process that is gone while it should run, if any.
func (g *Group) Exited() error {
	for _, p := range g.procs {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %v (see %s)", p.Name, p.Cmd.ProcessState, p.log.Name())
		default:
		}
	}
	return nil
}

// Command runs one command to its end (the relay's keygen and issue) and
// returns its standard output.
func Command(ctx context.Context, path string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", filepath.Base(path), strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out), nil
}
