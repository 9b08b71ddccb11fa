package lockout

import (
	"strconv"
	"testing"
	"time"

	"casefleet/shared/testenv"
)

// Five free tries, then 30 s doubling up to 15 min; a right try clears
// it; a quiet hour forgets it.
func TestWrongTriesWaitLonger(t *testing.T) {
	clock := testenv.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	l := New(Default(), clock.Now)
	for i := 1; i < 5; i++ {
		if left, locked := l.Failed("a"); left != 5-i || locked != 0 {
			t.Fatalf("try %d: left %d, locked %v", i, left, locked)
		}
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	for i, w := range want {
		if _, locked := l.Failed("a"); locked != w {
			t.Errorf("wrong try %d: locked %v, want %v", i+5, locked, w)
		}
	}
	if w := l.Wait("a"); w != 15*time.Minute {
		t.Errorf("Wait = %v", w)
	}
	if w := l.Wait("b"); w != 0 {
		t.Errorf("another client waits %v", w)
	}
	l.Succeeded("a")
	if w := l.Wait("a"); w != 0 {
		t.Errorf("after a right try: Wait = %v", w)
	}
	l.Failed("c")
	clock.Advance(time.Hour + time.Minute)
	if left, _ := l.Failed("c"); left != 4 {
		t.Errorf("after a quiet hour: %d tries left, want 4", left)
	}
}

func TestTheTableIsBounded(t *testing.T) {
	clock := testenv.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	p := Default()
	l := New(p, clock.Now)
	for i := range p.MaxClients {
		l.Failed("10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256))
	}
	if w := l.Wait("192.0.2.1"); w == 0 {
		t.Error("a new client got tries while the table is full of recent failures")
	}
	clock.Advance(p.ForgetAfter + time.Minute)
	if w := l.Wait("192.0.2.1"); w != 0 {
		t.Errorf("a new client waits %v after old entries aged out", w)
	}
}
