package testenv_test

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"casefleet/shared/testenv"
)

func TestProcessOutputExitAndRestart(t *testing.T) {
	p := testenv.StartProcess(t, "sh", "/bin/sh", []string{"GREETING=hello"}, "-c", `echo "$GREETING one"; echo two >&2; echo "$GREETING three"`)
	<-p.Done()
	if p.ExitCode() != 0 {
		t.Fatalf("exit code %d", p.ExitCode())
	}
	if n := p.Count("hello"); n != 2 {
		t.Errorf("Count(hello) = %d, want 2 in\n%s", n, p.Output())
	}
	if tail := p.Tail(2); tail != "two\nhello three" {
		t.Errorf("Tail(2) = %q", tail)
	}
	p.Start(t) // the same command line again; its output is added
	<-p.Done()
	if n := p.Count("three"); n != 2 {
		t.Errorf("after a restart Count(three) = %d, want 2", n)
	}
}

func TestProcessKillAndSignal(t *testing.T) {
	p := testenv.StartProcess(t, "sleeper", "/bin/sh", nil, "-c", `trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.05; done`)
	testenv.Eventually(t, 10*time.Second, "the shell is ready", func() bool { return p.Count("ready") == 1 })
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not end the process")
	}
	if p.ExitCode() != 3 || !strings.Contains(p.Output(), "got TERM") {
		t.Errorf("exit %d, output %q", p.ExitCode(), p.Output())
	}
	p.Start(t)
	p.Kill() // returns once the process is gone
	if p.ExitCode() != -1 {
		t.Errorf("killed: exit code %d, want -1 (killed by a signal)", p.ExitCode())
	}
}

func TestFreeAddrIsLoopback(t *testing.T) {
	if a := testenv.FreeAddr(t); !strings.HasPrefix(a, "127.0.0.1:") {
		t.Errorf("FreeAddr = %s", a)
	}
}

// On Linux the port is one the kernel never hands out by itself, so no
// outgoing connection takes it before the test's process listens.
func TestFreeAddrIsNoPortTheKernelHandsOut(t *testing.T) {
	if runtime.GOOS != "linux" {
		return // no ip_local_port_range to keep out of
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Fatal(err)
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil {
		t.Fatalf("ip_local_port_range %q: %v", b, err)
	}
	for range 20 {
		a := testenv.FreeAddr(t)
		_, p, _ := net.SplitHostPort(a)
		port, _ := strconv.Atoi(p)
		if port >= lo && port <= hi {
			t.Fatalf("FreeAddr = %s, in the kernel's own range %d-%d", a, lo, hi)
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("listen on FreeAddr's %s: %v", a, err)
		}
		ln.Close()
	}
}

// The addresses a bench starts its processes on differ from each other,
// and each is free to listen on.
func TestFreeAddrsAreDistinctAndFree(t *testing.T) {
	addrs, err := testenv.FreeAddrs(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("%s given twice in %v", a, addrs)
		}
		seen[a] = true
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("listen on %s: %v", a, err)
		}
		ln.Close()
	}
}
