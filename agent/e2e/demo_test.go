package e2e

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"casefleet/shared/testenv"
)

// relayOnce builds the relay into binDir beside the agent and the
// simulator, for the tests that need all three.
var relayOnce struct {
	sync.Once
	err error
}

func buildRelay(t *testing.T) {
	t.Helper()
	relayOnce.Do(func() { relayOnce.err = testenv.Build(binDir, "casefleet/relay/cmd/casefleet-relay") })
	if relayOnce.err != nil {
		t.Fatal(relayOnce.err)
	}
}

// loMulticast reports whether loopback can multicast now.
func loMulticast(t *testing.T) bool {
	t.Helper()
	out, err := exec.Command("ip", "link", "show", "lo").CombinedOutput()
	if err != nil {
		t.Fatalf("ip link show lo: %v: %s", err, out)
	}
	return strings.Contains(string(out), "MULTICAST")
}

func setLoMulticast(t *testing.T, on bool) {
	t.Helper()
	state := map[bool]string{true: "on", false: "off"}[on]
	if out, err := exec.Command("ip", "link", "set", "lo", "multicast", state).CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo multicast %s: %v: %s", state, err, out)
	}
}

// make demo (as root) switches multicast on for loopback so the agents can
// advertise, and leaves the machine as it found it: off again at exit if
// it was off, still on if it was on. Run in a network namespace of the
// test's own, whose loopback is the test's to change.
func TestDemoLeavesLoopbackMulticastAsItFoundIt(t *testing.T) {
	if !testenv.InOwnNetns(t) {
		return
	}
	buildRelay(t)
	for _, wasOn := range []bool{false, true} {
		setLoMulticast(t, wasOn)
		runDemoUntilUp(t, func() {
			if !loMulticast(t) {
				t.Error("while the demo runs, loopback cannot multicast")
			}
		})
		if got := loMulticast(t); got != wasOn {
			t.Errorf("multicast on lo was %v before the demo, is %v after", wasOn, got)
		}
	}
}

// runDemoUntilUp runs scripts/demo.sh until it says it is running, calls
// meanwhile, then stops it as Ctrl-C's SIGTERM sibling does and waits for
// it to exit.
func runDemoUntilUp(t *testing.T, meanwhile func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "..", "scripts", "demo.sh"))
	cmd.Env = append(cmd.Environ(), "BIN="+binDir, "DEMO_DIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var said strings.Builder
	up := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			said.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), "casefleet demo is running") {
				up <- true
				signalled = true
			}
		}
		if !signalled {
			up <- false
		}
		io.Copy(io.Discard, out)
	}()
	if !<-up {
		cmd.Wait()
		t.Fatalf("the demo did not come up:\n%s\n%s", said.String(), stderr.String())
	}
	meanwhile()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	cmd.Wait() // its status after a signal is the signal's; what it leaves behind is the test
	if ctx.Err() != nil {
		t.Fatalf("the demo did not stop:\n%s", stderr.String())
	}
}
