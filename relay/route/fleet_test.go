package route

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The directory remembers every machine seen, online or not, with when its
// tunnel was released and the last fleet record its relay published; a
// record over the limit or for a bad code is not stored.
func TestDirectoryKnownMachines(t *testing.T) {
	d := testDirectory(t, 10*time.Second)
	ctx := context.Background()
	if k, err := d.Known(ctx); err != nil || len(k) != 0 {
		t.Fatalf("known before any claim: %v, %v", k, err)
	}
	a, b := entry("CT0700026", "relay-a", "t1"), entry("CT0700027", "relay-a", "t2")
	b.Location = "station"
	for _, e := range []Entry{a, b} {
		if err := d.Claim(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.PublishFleet(ctx, map[string][]byte{
		"CT0700026": []byte(`{"a":1}`), "ct1": []byte(`{}`), "CT0700027": []byte(strings.Repeat("x", MaxRecordLen+1)),
	}); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	if err := d.Release(ctx, a); err != nil {
		t.Fatal(err)
	}
	known, err := d.Known(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(known) != 2 || known[0].Machine != "CT0700026" || known[1].Machine != "CT0700027" {
		t.Fatalf("known = %+v", known)
	}
	if k := known[0]; k.Location != "mall-3f" || string(k.Record) != `{"a":1}` || k.Down.Before(before) || k.Down.After(time.Now()) {
		t.Errorf("released machine: %+v", k)
	}
	if k := known[1]; k.Location != "station" || k.Record != nil || !k.Down.IsZero() {
		t.Errorf("online machine with an oversized record: %+v", k)
	}
}

func TestGlobEscape(t *testing.T) {
	for in, want := range map[string]string{"casefleet:": "casefleet:", "a*b?[c]\\": `a\*b\?\[c\]\\`} {
		if got := globEscape(in); got != want {
			t.Errorf("globEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

// Wrong logins counted in Redis lock a client out for every relay: the
// free tries, then the first lock doubling up to the longest; a right
// login clears it; other clients are not touched.
func TestDirectoryLoginLockout(t *testing.T) {
	d := testDirectory(t, 10*time.Second)
	ctx := context.Background()
	p := LoginPolicy{Free: 3, First: 30 * time.Second, Max: 100 * time.Second, ForgetAfter: time.Hour}
	for i, want := range []struct {
		left   int
		locked time.Duration
	}{{2, 0}, {1, 0}, {0, 30 * time.Second}, {0, 60 * time.Second}, {0, 100 * time.Second}, {0, 100 * time.Second}} {
		left, locked, err := d.LoginFailed(ctx, "192.0.2.7", p)
		if err != nil || left != want.left || locked != want.locked {
			t.Fatalf("wrong login %d: %d left, locked %v, %v; want %d, %v", i+1, left, locked, err, want.left, want.locked)
		}
	}
	if wait, err := d.LoginWait(ctx, "192.0.2.7"); err != nil || wait <= 90*time.Second || wait > 100*time.Second {
		t.Errorf("wait = %v, %v", wait, err)
	}
	if wait, _ := d.LoginWait(ctx, "192.0.2.8"); wait != 0 {
		t.Errorf("another client waits %v", wait)
	}
	if err := d.LoginSucceeded(ctx, "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	if wait, _ := d.LoginWait(ctx, "192.0.2.7"); wait != 0 {
		t.Errorf("after a right login the client waits %v", wait)
	}
}

// A fleet page open on one relay makes every relay gather, for the ttl.
func TestDirectoryFleetWanted(t *testing.T) {
	d := testDirectory(t, time.Second)
	ctx := context.Background()
	if ok, err := d.FleetWanted(ctx); err != nil || ok {
		t.Fatalf("before anyone asked: %v %v", ok, err)
	}
	if err := d.WantFleet(ctx, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.FleetWanted(ctx); err != nil || !ok {
		t.Fatalf("after WantFleet: %v %v", ok, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := d.FleetWanted(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the wish did not lapse after its ttl")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
