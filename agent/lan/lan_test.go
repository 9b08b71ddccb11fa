package lan

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"casefleet/shared/testenv"
)

func TestTXTRoundTrip(t *testing.T) {
	in := Info{Code: "CT0700026", Name: "Mall 3F = east", Location: "mall-3f", Version: "v1", Printer: "printing", QueueLength: 7, TunnelUp: true}
	out, ok := parseTXT(in.txt())
	if !ok || out != in {
		t.Fatalf("round trip: %+v -> %+v", in, out)
	}
	if _, ok := parseTXT([]string{"name=stranger", "garbage", "queue=lots"}); ok {
		t.Fatal("a record without a machine code was taken for an agent")
	}
	long := Info{Code: "CT0700026", Name: strings.Repeat("n", 1000)}
	for _, s := range long.txt() {
		if len(s) > 255 {
			t.Fatalf("TXT string of %d bytes", len(s))
		}
	}
}

func FuzzParseTXT(f *testing.F) {
	f.Add("code=CT0700026", "queue=3", "tunnel=true")
	f.Add("=", "queue=-1", "")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		parseTXT([]string{a, b, c})
	})
}

func TestInterfacesRefusesWhatCannotMulticast(t *testing.T) {
	if _, err := interfaces([]string{"no-such-interface0"}); err == nil {
		t.Fatal("unknown interface accepted")
	}
}

// Three agents advertise on loopback; discover finds all three within a
// few seconds, with what each said about itself, and sees a change.
func TestAdvertiseAndDiscoverOnLoopback(t *testing.T) {
	if !testenv.InOwnNetns(t) {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	var mu sync.Mutex
	queue := map[string]int{"CT0700026": 1, "CT0700027": 0, "CT0700046": 4}
	var wg sync.WaitGroup
	for i, code := range []string{"CT0700026", "CT0700027", "CT0700046"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info := func() Info {
				mu.Lock()
				defer mu.Unlock()
				return Info{Code: code, Name: "Kiosk " + code, Location: "mall-3f", Version: "test", Printer: "online", QueueLength: queue[code], TunnelUp: i%2 == 0}
			}
			if err := Advertise(ctx, code, 7081+i, []string{"lo"}, info, 50*time.Millisecond, log); err != nil {
				t.Error(err)
			}
		}()
	}
	find := func(want func([]Agent) bool) []Agent {
		deadline := time.Now().Add(20 * time.Second)
		for {
			dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
			agents, err := Discover(dctx, []string{"lo"})
			dcancel()
			if err != nil {
				t.Fatal(err)
			}
			if want(agents) {
				return agents
			}
			if time.Now().After(deadline) {
				t.Fatalf("discover found %+v", agents)
			}
		}
	}
	agents := find(func(a []Agent) bool { return len(a) == 3 })
	for i, a := range agents {
		if a.Port != 7081+i || a.Name != "Kiosk "+a.Code || a.Location != "mall-3f" || len(a.Addrs) == 0 {
			t.Errorf("agent %d: %+v", i, a)
		}
		if a.URL() != fmt.Sprintf("http://127.0.0.1:%d", 7081+i) && !strings.Contains(a.URL(), "::1") {
			t.Errorf("agent %s URL %s", a.Code, a.URL())
		}
	}
	mu.Lock()
	queue["CT0700027"] = 9
	mu.Unlock()
	find(func(a []Agent) bool { return len(a) == 3 && a[1].QueueLength == 9 })
	cancel()
	wg.Wait()
}
