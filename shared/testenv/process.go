package testenv

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build compiles the main packages pkgs into dir in one go build (so they
// link in parallel); for a TestMain, which has no *testing.T.
func Build(dir string, pkgs ...string) error {
	cmd := exec.Command("go", append([]string{"build", "-o", dir + string(os.PathSeparator)}, pkgs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, out)
	}
	return nil
}

// FreeAddr returns a loopback address that was free a moment ago, for a
// process the test starts to listen on. Where the system says which ports
// it hands out on its own (Linux's ip_local_port_range), the port is picked
// below them: a port the kernel hands out can be taken, between this check
// and the process's listen, by any outgoing connection on the machine (the
// tests of other packages run meanwhile).
func FreeAddr(t testing.TB) string {
	t.Helper()
	addrs, err := FreeAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	return addrs[0]
}

// FreeAddrs returns n distinct loopback addresses picked as FreeAddr
// picks one, for benches and TestMains, which have no testing.TB.
func FreeAddrs(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	for range n {
		// Held until all are picked, so that no two are the same.
		ln, err := listenFree()
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// listenFree listens on a free loopback port, below the ports the kernel
// hands out by itself where the system says which those are.
func listenFree() (net.Listener, error) {
	if lo, ok := ephemeralLow(); ok && lo > minFreePort+1000 {
		for range 100 {
			port := minFreePort + rand.IntN(lo-minFreePort)
			if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
				return ln, nil
			}
		}
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// minFreePort is the lowest port FreeAddr picks: above the well-known
// services' (Redis, PostgreSQL, NATS, RabbitMQ's management) that tests
// reach.
const minFreePort = 20000

// ephemeralLow is the lowest port the kernel hands out by itself, where
// the system says.
func ephemeralLow() (int, bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, false
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return 0, false
	}
	lo, err := strconv.Atoi(fields[0])
	return lo, err == nil
}

// Eventually polls cond every 20 ms until it holds, failing the test
// after within.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	Poll(t, within, 20*time.Millisecond, what, cond)
}

// Poll is Eventually with a polling interval of the caller's, for
// conditions that cost something to check (a request to a process).
func Poll(t testing.TB, within, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(interval)
	}
}

// Process is a binary a test runs: killed at the test's end, its output
// kept and shown (the last lines) when the test failed.
type Process struct {
	Name string
	Path string
	Args []string
	Env  []string // added to the test's environment

	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

// StartProcess runs path with args and env; name labels its output.
func StartProcess(t testing.TB, name, path string, env []string, args ...string) *Process {
	t.Helper()
	p := &Process{Name: name, Path: path, Args: args, Env: env, out: &lockedBuffer{}}
	p.Start(t)
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- %s: the last lines of its output ---\n%s", name, p.Tail(150))
		}
	})
	return p
}

// Start runs the process (again, after Kill) with the same command line.
func (p *Process) Start(t testing.TB) {
	t.Helper()
	p.cmd = exec.Command(p.Path, p.Args...)
	p.cmd.Env = append(os.Environ(), p.Env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// A child that inherited the output pipe (a browser a driver started)
	// must not keep Wait, and so Kill, waiting for ever.
	p.cmd.WaitDelay = 5 * time.Second
	ownProcessGroup(p.cmd)
	done := make(chan struct{})
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.Name, err)
	}
	p.done = done
	go func(cmd *exec.Cmd) { cmd.Wait(); close(done) }(p.cmd)
}

// Kill sends SIGKILL to the process and whatever it started (its process
// group, where there are groups) and waits until it is gone.
func (p *Process) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	killProcessGroup(p.cmd)
	<-p.done
}

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitCode is the exit code of a process that has exited, -1 otherwise.
func (p *Process) ExitCode() int {
	if p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Output is everything the process wrote to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// Count is how many lines of the output contain substr.
func (p *Process) Count(substr string) int {
	n := 0
	for line := range strings.Lines(p.Output()) {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

// Tail is the last n lines of the output.
func (p *Process) Tail(n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(p.Output()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// lockedBuffer is a bytes.Buffer the process's output goroutines and the
// test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
