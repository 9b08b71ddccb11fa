package route

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"casefleet/shared/testenv"
)

// testDirectory is a directory on the local Redis under a prefix of its
// own, so that tests never see each other's keys.
func testDirectory(t *testing.T, ttl time.Duration) *Directory {
	t.Helper()
	addr := testenv.RedisAddr(t)
	var b [6]byte
	rand.Read(b[:])
	d, err := NewDirectory(DirectoryOptions{URL: "redis://" + addr, Prefix: "casefleet-test:" + hex.EncodeToString(b[:]) + ":", LeaseTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := d.rdb.Keys(ctx, d.prefix+"*").Result()
		if len(keys) > 0 {
			d.rdb.Del(ctx, keys...)
		}
		d.Close()
	})
	return d
}

func entry(code, instance, tunnel string) Entry {
	return Entry{Machine: code, Instance: instance, URL: "http://" + instance + ":8080", Tunnel: tunnel, Location: "mall-3f", Since: 1}
}

func TestDirectoryClaimLookupRelease(t *testing.T) {
	d := testDirectory(t, 10*time.Second)
	ctx := context.Background()
	if _, err := d.Lookup(ctx, "CT0700026"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup before any claim: %v", err)
	}
	if _, seen, _ := d.Seen(ctx, "CT0700026"); seen {
		t.Error("seen before any claim")
	}

	a := entry("CT0700026", "relay-a", "t1")
	if err := d.Claim(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Lookup(ctx, "CT0700026"); err != nil || got != a {
		t.Fatalf("lookup = %+v, %v", got, err)
	}
	// The agent reconnects to relay B: the newest tunnel wins at once.
	b := entry("CT0700026", "relay-b", "t2")
	if err := d.Claim(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Lookup(ctx, "CT0700026"); got != b {
		t.Fatalf("after B's claim, lookup = %+v", got)
	}
	// A's refresh finds its entry taken; its release leaves B's alone.
	lost, err := d.Refresh(ctx, []Entry{a})
	if err != nil || len(lost) != 1 || lost[0] != a {
		t.Errorf("A's refresh: lost %v, %v", lost, err)
	}
	if err := d.Release(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Lookup(ctx, "CT0700026"); got != b {
		t.Fatalf("A's release removed B's entry: %+v", got)
	}
	if online, _ := d.Online(ctx); len(online) != 1 || online[0] != b {
		t.Errorf("online = %+v", online)
	}
	if err := d.Release(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Lookup(ctx, "CT0700026"); !errors.Is(err, ErrNotFound) {
		t.Errorf("lookup after release: %v", err)
	}
	if online, _ := d.Online(ctx); len(online) != 0 {
		t.Errorf("online after release = %+v", online)
	}
	if loc, seen, err := d.Seen(ctx, "CT0700026"); err != nil || !seen || loc != "mall-3f" {
		t.Errorf("seen = %q %v %v, want remembered at mall-3f", loc, seen, err)
	}
}

// TestDirectoryLeasesLapse: the entries of a relay that stopped
// refreshing (it died) disappear after the lease; a live relay's stay.
func TestDirectoryLeasesLapse(t *testing.T) {
	d := testDirectory(t, time.Second)
	ctx := context.Background()
	dead, live := entry("CT0700026", "relay-a", "t1"), entry("CT0700046", "relay-b", "t2")
	for _, e := range []Entry{dead, live} {
		if err := d.Claim(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if lost, err := d.Refresh(ctx, []Entry{live}); err != nil || len(lost) != 0 {
			t.Fatalf("refresh: lost %v, %v", lost, err)
		}
		_, err := d.Lookup(ctx, dead.Machine)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dead relay's entry never lapsed")
		}
		time.Sleep(100 * time.Millisecond) // a refresh interval, as the relay's
	}
	if got, err := d.Lookup(ctx, live.Machine); err != nil || got != live {
		t.Errorf("the live entry: %+v, %v", got, err)
	}
	if online, _ := d.Online(ctx); len(online) != 1 || online[0] != live {
		t.Errorf("online = %+v", online)
	}
	// A lapsed entry is taken again by its holder's next refresh (Redis
	// was away for longer than the lease).
	if lost, err := d.Refresh(ctx, []Entry{dead}); err != nil || len(lost) != 0 {
		t.Errorf("refresh of a lapsed entry: lost %v, %v", lost, err)
	}
	if _, err := d.Lookup(ctx, dead.Machine); err != nil {
		t.Errorf("lapsed entry not taken again: %v", err)
	}
}

func TestDirectoryRefreshesManyAtOnce(t *testing.T) {
	d := testDirectory(t, 10*time.Second)
	ctx := context.Background()
	var entries []Entry
	for i := range 500 {
		e := entry(fmt.Sprintf("CT%07d", i), "relay-a", "t")
		entries = append(entries, e)
		if err := d.Claim(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Redis forgot its scripts (it restarted): the refresh loads them again.
	d.rdb.ScriptFlush(ctx)
	lost, err := d.Refresh(ctx, entries)
	if err != nil || len(lost) != 0 {
		t.Fatalf("refresh: lost %d, %v", len(lost), err)
	}
	if online, _ := d.Online(ctx); len(online) != 500 {
		t.Errorf("%d online, want 500", len(online))
	}
}

func TestUnreachableRedisIsAnError(t *testing.T) {
	d, err := NewDirectory(DirectoryOptions{URL: "redis://127.0.0.1:1", Prefix: "x:", LeaseTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if err := d.Ping(ctx); err == nil {
		t.Error("ping of nothing succeeded")
	}
	if _, err := d.Lookup(ctx, "CT0700026"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("lookup: %v, want a connection error, not ErrNotFound", err)
	}
}

func TestParseEntryRejectsHostileValues(t *testing.T) {
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `{"machine":"../x","instance":"a","tunnel":"t","url":"http://a"}`,
		`{"machine":"CT0700026","instance":"","tunnel":"t","url":"http://a"}`,
		`{"machine":"CT0700026","instance":"a","tunnel":"t","url":"file:///etc/passwd"}`,
		`{"machine":"CT0700026","instance":"a","tunnel":"t","url":"gopher://a"}`,
	} {
		if _, err := ParseEntry([]byte(s)); err == nil {
			t.Errorf("ParseEntry(%s) accepted", s)
		}
	}
}

func FuzzParseEntry(f *testing.F) {
	f.Add([]byte(`{"machine":"CT0700026","instance":"a","url":"http://10.0.0.1:8080","tunnel":"t","location":"x","since":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEntry(b)
		if err != nil {
			return
		}
		if e.Instance == "" || e.Tunnel == "" || len(b) > maxEntryLen {
			t.Fatalf("accepted %+v", e)
		}
	})
}

func TestDirectoryReportsFailedCommands(t *testing.T) {
	var ops []string
	d, err := NewDirectory(DirectoryOptions{URL: "redis://127.0.0.1:1", Prefix: "x:", LeaseTTL: time.Second,
		OnError: func(op string, _ error) { ops = append(ops, op) }})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	d.Ping(ctx)
	d.Claim(ctx, entry("CT0700026", "relay-a", "t1"))
	d.Lookup(ctx, "CT0700026")
	d.Online(ctx)
	if got := fmt.Sprint(ops); got != "[ping claim lookup online]" {
		t.Errorf("reported %s", got)
	}

	// A machine that is simply not there is no failure.
	live := testDirectory(t, time.Second)
	live.onError = func(op string, err error) { t.Errorf("%s reported as failed: %v", op, err) }
	if _, err := live.Lookup(ctx, "CT0700099"); !errors.Is(err, ErrNotFound) {
		t.Errorf("lookup = %v", err)
	}
	if _, seen, err := live.Seen(ctx, "CT0700099"); seen || err != nil {
		t.Errorf("seen = %v %v", seen, err)
	}
}
