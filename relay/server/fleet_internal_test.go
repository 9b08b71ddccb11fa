package server

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"casefleet/relay/fleetpage"
	"casefleet/shared/summary"
)

// A fleet record read back from Redis (shared, so not trusted) is either
// refused or a checked summary for the machine asked.
func FuzzParseRecord(f *testing.F) {
	sum, _ := json.Marshal(summary.Summary{Code: "CT0700026", Status: "online"})
	rec, _ := json.Marshal(fleetRecord{Instance: "relay-a", Since: 1, At: 2, Summary: sum})
	f.Add(rec)
	f.Add([]byte(`{"instance":"x","since":-1,"at":0,"summary":null}`))
	f.Add([]byte(`{"summary":{"code":"CT0700027"},"at":5}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, s, ok := parseRecord(b, "CT0700026")
		if !ok {
			return
		}
		if s.Code != "CT0700026" || rec.At <= 0 || !s.At.Equal(time.UnixMilli(rec.At)) {
			t.Fatalf("accepted %q as %+v %+v", b, rec, s)
		}
	})
}

// The fleet changes when what a machine shows changes, not when only the
// time of its summary does.
func TestFleetKeyIgnoresSummaryTimes(t *testing.T) {
	m := func(at time.Time, queue int) []fleetpage.Machine {
		return []fleetpage.Machine{{Code: "CT0700026", Online: true, Summary: &summary.Summary{Code: "CT0700026", At: at, QueueLength: queue}}}
	}
	now := time.Now()
	if string(fleetKey(m(now, 1), false)) != string(fleetKey(m(now.Add(time.Minute), 1), false)) {
		t.Error("a new summary time alone changes the fleet")
	}
	if string(fleetKey(m(now, 1), false)) == string(fleetKey(m(now, 2), false)) {
		t.Error("a longer line does not change the fleet")
	}
	ms := m(now, 1)
	fleetKey(ms, false)
	if !ms[0].Summary.At.Equal(now) {
		t.Error("fleetKey changed the snapshot's summary")
	}
}

// The lockout counts an IPv6 client by its /64, an IPv4 one by address.
func TestLockoutKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7": "192.0.2.7", "::ffff:192.0.2.7": "192.0.2.7",
		"2001:db8:1:2:aaaa::1": "2001:db8:1:2::/64", "2001:db8:1:2:bbbb::9": "2001:db8:1:2::/64",
	} {
		if got := lockoutKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("lockoutKey(%s) = %s, want %s", in, got, want)
		}
	}
}
