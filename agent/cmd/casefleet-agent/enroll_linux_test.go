package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"casefleet/shared/testenv"
)

// openPTY opens a pseudo-terminal: term is the technician's side, and
// screen gives what they type and shows what the terminal displays (echo
// included).
func openPTY(t *testing.T) (screen, term *os.File) {
	t.Helper()
	screen, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		if testenv.Required() {
			t.Fatalf("no pseudo-terminal: %v", err)
		}
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { screen.Close() })
	if err := unix.IoctlSetPointerInt(int(screen.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(screen.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	term, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	return screen, term
}

// On a terminal, enroll asks for the PIN twice and never shows it.
func TestEnrollAsksForThePINWithoutEcho(t *testing.T) {
	screen, term := openPTY(t)
	type result struct {
		pin string
		err error
	}
	done := make(chan result, 1)
	go func() {
		pin, err := operatorPIN("", "/nonexistent/agent.yaml", false, term, term)
		done <- result{pin, err}
	}()
	var shown []byte
	// waitFor reads what the terminal shows until it has said s n times.
	waitFor := func(s string, n int) {
		t.Helper()
		buf := make([]byte, 256)
		for bytes.Count(shown, []byte(s)) < n {
			k, err := screen.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %q: %v; shown: %q", s, err, shown)
			}
			shown = append(shown, buf[:k]...)
		}
	}
	waitFor("Enter to skip): ", 1)
	screen.Write([]byte("12345\n"))
	waitFor("too short", 1)
	waitFor("Enter to skip): ", 2)
	screen.Write([]byte("987654\n"))
	waitFor("again: ", 1)
	screen.Write([]byte("987654\n"))
	r := <-done
	if r.err != nil || r.pin != "987654" {
		t.Fatalf("operatorPIN = %q, %v; shown: %q", r.pin, r.err, shown)
	}
	if bytes.Contains(shown, []byte("9876")) || bytes.Contains(shown, []byte("1234")) {
		t.Fatalf("the terminal showed the PIN: %q", shown)
	}
}

// Without a terminal, only --operator-pin sets it; a short one is refused.
func TestEnrollPINWithoutATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var out strings.Builder
	if pin, err := operatorPIN("", "/nonexistent/agent.yaml", false, r, &out); pin != "" || err != nil || !strings.Contains(out.String(), "lan.operator_pin is not set") {
		t.Errorf("enroll without a PIN nor a terminal: %q, %v, said %q", pin, err, out.String())
	}
	if _, err := operatorPIN("", "/nonexistent/agent.yaml", true, r, &out); err == nil || !strings.Contains(err.Error(), "--operator-pin") {
		t.Errorf("--set-pin without a terminal: %v", err)
	}
	if _, err := operatorPIN("12345", "", false, r, &out); err == nil {
		t.Error("a 5-character PIN was taken")
	}
}

// Without systemd, enroll tells how to start the agent, and not as root.
func TestManualStartIsNotAsRoot(t *testing.T) {
	advice := manualStart("/etc/casefleet/agent.yaml")
	if !strings.Contains(advice, "not as root") || !strings.Contains(advice, "run --config /etc/casefleet/agent.yaml") {
		t.Fatalf("advice: %s", advice)
	}
}
