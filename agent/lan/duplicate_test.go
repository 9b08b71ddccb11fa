package lan

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"casefleet/shared/testenv"
)

// Two agents claiming one machine code (one set up wrong) are both found,
// each marked Duplicate, beside a third that is not.
func TestDiscoverShowsBothAgentsThatClaimOneMachineCode(t *testing.T) {
	if !testenv.InOwnNetns(t) {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	var wg sync.WaitGroup
	for i, code := range []string{"CT0700026", "CT0700026", "CT0700027"} {
		wg.Go(func() {
			info := func() Info { return Info{Code: code, Name: "Kiosk " + code, Printer: "online"} }
			if err := Advertise(ctx, code, 7081+i, []string{"lo"}, info, time.Minute, log); err != nil {
				t.Error(err)
			}
		})
	}
	var agents []Agent
	testenv.Eventually(t, 20*time.Second, "discover finds the three agents", func() bool {
		dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
		defer dcancel()
		var err error
		if agents, err = Discover(dctx, []string{"lo"}); err != nil {
			t.Fatal(err)
		}
		return len(agents) == 3
	})
	for i, want := range []struct {
		code      string
		port      int
		duplicate bool
	}{{"CT0700026", 7081, true}, {"CT0700026", 7082, true}, {"CT0700027", 7083, false}} {
		a := agents[i]
		if a.Code != want.code || a.Port != want.port || a.Duplicate != want.duplicate || !strings.HasPrefix(a.Instance, want.code+" (") {
			t.Errorf("agent %d: %+v, want %s on port %d, duplicate %v", i, a, want.code, want.port, want.duplicate)
		}
	}
	cancel()
	wg.Wait()
}

// An instance name stays within a DNS label's 63 bytes however long the
// host's name.
func TestUniqueInstanceFitsADNSLabel(t *testing.T) {
	for _, host := range []string{"kiosk-pc", strings.Repeat("h", 80)} {
		got := uniqueInstance("CT0700026", host, 7081)
		if len(got) > 63 || !strings.HasPrefix(got, "CT0700026 (") || !strings.HasSuffix(got, ":7081)") {
			t.Errorf("host %q: instance %q (%d bytes)", host, got, len(got))
		}
	}
}

func TestUnescapeLabel(t *testing.T) {
	for in, want := range map[string]string{
		`CT0700026\ \(pc:7081\)`: "CT0700026 (pc:7081)",
		`a\.b\\c\032d`:           `a.b\c d`,
		`plain`:                  "plain",
	} {
		if got := unescapeLabel(in); got != want {
			t.Errorf("unescapeLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
