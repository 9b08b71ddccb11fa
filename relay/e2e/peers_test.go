package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/relay/relaytest"
	"casefleet/shared/testenv"
)

// TestTwoRelaysFailover: two relays share Redis behind a load balancer.
// The agent's tunnel lands on A, the phone talks to B; A is killed, the
// agent moves to B, and the phone keeps working.
func TestTwoRelaysFailover(t *testing.T) {
	redis := "redis://" + testenv.RedisAddr(t)
	var b [6]byte
	rand.Read(b[:])
	prefix := "casefleet-test:" + hex.EncodeToString(b[:]) + ":"
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{"CT0700026"}, PayDelay: -1})
	f := relaytest.NewFleet(t)

	addrA, addrB := testenv.FreeAddr(t), testenv.FreeAddr(t)
	lb := startLoadBalancer(t, addrA, addrB)
	peer := func(id, addr string) *relayProc {
		return startRelayProc(t, f, addr, "--redis-url", redis, "--redis-prefix", prefix, "--instance-id", id,
			"--advertise-url", "http://"+addr, "--lease-ttl", "2s", "--public-url", lb.URL())
	}
	relayA, relayB := peer("relay-a", addrA), peer("relay-b", addrB)
	startAgent(t, sim, f, "CT0700026", "mall-3f", lb.URL())
	relaytest.WaitRoutable(t, relayA.URL(), "CT0700026")
	relaytest.WaitRoutable(t, relayB.URL(), "CT0700026")

	phone := agenttest.NewCustomer(t, relayB.URL()+api+"CT0700026")
	order := phone.Order(t, phone.FirstProduct(t))
	testenv.Eventually(t, relaytest.Wait, "the order awaits payment (print file fetched through the relays)", func() bool {
		return phone.Get(t, order.ID).Stage == "awaiting_payment"
	})

	killed := time.Now()
	relayA.Kill()
	waitRoutable(t, relayB.URL(), "CT0700026", relaytest.Wait)
	t.Logf("the agent is served by B %v after A died", time.Since(killed).Round(time.Millisecond))

	// The phone carries on at B: its order, its events, a new order.
	payWhenAwaiting(t, sim, "CT0700026")
	phone.WaitStatus(t, order.ID, "complete", relaytest.Wait)
	ctx, cancel := context.WithTimeout(context.Background(), relaytest.Wait)
	defer cancel()
	q := url.Values{"sessionId": {phone.SessionID}}
	if complete, err := readEvents(ctx, wsURL(relayB.URL(), api+"CT0700026/events", q), func(event) {}); !complete {
		t.Errorf("events through B: %v", err)
	}
	second := phone.Order(t, phone.FirstProduct(t))
	payWhenAwaiting(t, sim, "CT0700026")
	phone.WaitStatus(t, second.ID, "complete", relaytest.Wait)
	if got := simOrders(t, sim, "CT0700026"); len(got) != 2 {
		t.Errorf("the simulator has orders %v, want exactly 2", got)
	}
}
