package e2e

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/relay/relaytest"
	"casefleet/shared/testenv"
)

// TestRelayRestart kills the relay (SIGKILL) while a customer's order
// waits for payment, lets the order print while the relay is down, and
// starts the relay again: every agent is back within seconds, and the
// phone's event stream resumes from its last event id with nothing missed.
func TestRelayRestart(t *testing.T) {
	codes := []string{"CT0700026", "CT0700027", "CT0700046"}
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: codes, PayDelay: -1})
	f := relaytest.NewFleet(t)
	relay := startRelayProc(t, f, testenv.FreeAddr(t))
	agents := map[string]*agenttest.Agent{}
	for _, code := range codes {
		agents[code] = startAgent(t, sim, f, code, "mall-3f", relay.URL())
	}
	for _, code := range codes {
		relaytest.WaitRoutable(t, relay.URL(), code)
	}

	// A phone orders through the relay and follows its order.
	phone := agenttest.NewCustomer(t, relay.URL()+api+"CT0700026")
	order := phone.Order(t, phone.FirstProduct(t))
	var (
		mu     sync.Mutex
		events []event
	)
	record := func(ev event) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}
	last := func() (uint64, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(events) == 0 {
			return 0, false
		}
		return events[len(events)-1].ID, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	streamURL := func(base string, after uint64, resume bool) string {
		q := url.Values{"sessionId": {phone.SessionID}}
		if resume {
			q.Set("lastEventId", itoa(after))
		}
		return wsURL(base, api+"CT0700026/events", q)
	}
	firstStream := make(chan error, 1)
	go func() {
		_, err := readEvents(ctx, streamURL(relay.URL(), 0, false), record)
		firstStream <- err
	}()
	testenv.Eventually(t, relaytest.Wait, "the phone's first events", func() bool { _, ok := last(); return ok })
	mu.Lock()
	start := events[0].ID // the snapshot's id: the stream covers what follows
	mu.Unlock()

	// The machine has fetched the print file (through the relay) and shows
	// the payment screen: now the relay may go.
	testenv.Eventually(t, relaytest.Wait, "the order awaits payment", func() bool {
		return phone.Get(t, order.ID).Stage == "awaiting_payment"
	})
	relay.Kill()
	if err := <-firstStream; err == nil {
		t.Fatal("the event stream did not break with the relay")
	}
	// The order goes on while the relay is down: paid, printed, done.
	payWhenAwaiting(t, sim, "CT0700026")
	phoneLAN := agenttest.NewCustomer(t, agents["CT0700026"].API())
	phoneLAN.SessionID = phone.SessionID
	phoneLAN.WaitStatus(t, order.ID, "complete", relaytest.Wait)

	restarted := time.Now()
	relay.restart(t)
	for _, code := range codes {
		relaytest.WaitRoutable(t, relay.URL(), code)
	}
	t.Logf("all %d agents back %v after the relay started again", len(codes), time.Since(restarted).Round(time.Millisecond))
	if d := time.Since(restarted); d > 15*time.Second {
		t.Errorf("agents took %v to come back", d)
	}

	// The phone reconnects with its last event id and catches up.
	after, _ := last()
	complete, err := readEvents(ctx, streamURL(relay.URL(), after, true), record)
	if !complete {
		t.Fatalf("the resumed stream ended before the order completed: %v", err)
	}
	// Nothing missed: the phone saw every event the agent logged for it
	// since it first connected, as a stream straight from the agent says.
	var reference []event
	if _, err := readEvents(ctx, streamURL(agents["CT0700026"].URL, start, true), func(ev event) { reference = append(reference, ev) }); err != nil {
		t.Fatal(err)
	}
	end := reference[len(reference)-1].ID
	mu.Lock()
	got := idsAfter(events, start, end)
	mu.Unlock()
	want := idsAfter(reference, start, end)
	if !slices.Equal(got, want) {
		t.Errorf("the phone saw events %v, the agent logged %v", got, want)
	}
	if n := len(sim.Orders(t, "CT0700026")); n != 1 {
		t.Errorf("the simulator has %d orders, want 1", n)
	}
}
