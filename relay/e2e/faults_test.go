package e2e

import (
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/relay/relaytest"
	"casefleet/shared/testenv"
)

// TestLinkFaults cuts the link between an agent and the relay in the ways
// networks do, each with an order in progress: the tunnel's death is
// detected, the agent reconnects, and the order is printed exactly once.
func TestLinkFaults(t *testing.T) {
	codes := []string{"CT0700026", "CT0700027", "CT0700046"}
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: codes, PayDelay: -1})
	f := relaytest.NewFleet(t)
	relay := startRelayProc(t, f, testenv.FreeAddr(t))

	tests := []struct {
		name   string
		code   string
		inject func(p *relaytest.FaultProxy)
	}{
		{"dropped", "CT0700026", func(p *relaytest.FaultProxy) { p.Drop() }},
		{"stalled (blackholed)", "CT0700027", func(p *relaytest.FaultProxy) { p.Stall() }},
		// The relay's side closes, the agent's stays open and silent: only
		// the agent's keepalive (10 s, so within 20 s) finds it.
		{"half-open", "CT0700046", func(p *relaytest.FaultProxy) { p.HalfOpen() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			link := relaytest.StartFaultProxy(t, relay.addr)
			agent := startAgent(t, sim, f, tt.code, "lab", link.URL())
			relaytest.WaitRoutable(t, relay.URL(), tt.code)

			phone := agenttest.NewCustomer(t, relay.URL()+api+tt.code)
			order := phone.Order(t, phone.FirstProduct(t))
			testenv.Eventually(t, relaytest.Wait, "the order awaits payment", func() bool {
				return phone.Get(t, order.ID).Stage == "awaiting_payment"
			})

			tt.inject(link)
			testenv.Eventually(t, relaytest.Wait, "the relay finds the tunnel dead", func() bool {
				resp, err := http.Get(relay.URL() + api + tt.code + "/status")
				if err != nil {
					return false
				}
				drain(resp)
				return resp.StatusCode == http.StatusServiceUnavailable
			})
			// Meanwhile the customer pays and the case prints.
			payWhenAwaiting(t, sim, tt.code)
			link.Resume()
			waitRoutable(t, relay.URL(), tt.code, time.Minute)
			if o := phone.WaitStatus(t, order.ID, "complete", relaytest.Wait); o.PickupCode == "" {
				t.Errorf("completed order without a pickup code: %+v", o)
			}
			// The link works for new orders, and nothing was sent twice.
			second := phone.Order(t, phone.FirstProduct(t))
			payWhenAwaiting(t, sim, tt.code)
			phone.WaitStatus(t, second.ID, "complete", relaytest.Wait)
			if got := simOrders(t, sim, tt.code); len(got) != 2 {
				t.Errorf("the simulator has orders %v, want exactly 2", got)
			}
			_ = agent
		})
	}
}

// waitRoutable is relaytest.WaitRoutable with a longer deadline.
func waitRoutable(t *testing.T, base, code string, within time.Duration) {
	t.Helper()
	start := time.Now()
	testenv.Eventually(t, within, code+" routable again", func() bool {
		resp, err := http.Get(base + api + code + "/status")
		if err != nil {
			return false
		}
		drain(resp)
		return resp.StatusCode == http.StatusOK
	})
	t.Logf("%s routable again after %v", code, time.Since(start).Round(time.Millisecond))
}

// loadBalancer sends each new TCP connection to the first backend that
// accepts it, as a load balancer with health checks does.
type loadBalancer struct {
	ln       net.Listener
	backends []string
	mu       sync.Mutex
	conns    []net.Conn
}

func startLoadBalancer(t *testing.T, backends ...string) *loadBalancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lb := &loadBalancer{ln: ln, backends: backends}
	go lb.serve()
	t.Cleanup(func() {
		ln.Close()
		lb.mu.Lock()
		defer lb.mu.Unlock()
		for _, c := range lb.conns {
			c.Close()
		}
	})
	return lb
}

func (lb *loadBalancer) URL() string { return "http://" + lb.ln.Addr().String() }

func (lb *loadBalancer) serve() {
	for {
		c, err := lb.ln.Accept()
		if err != nil {
			return
		}
		var up net.Conn
		for _, b := range lb.backends {
			if up, err = net.DialTimeout("tcp", b, time.Second); err == nil {
				break
			}
		}
		if up == nil {
			c.Close()
			continue
		}
		lb.mu.Lock()
		lb.conns = append(lb.conns, c, up)
		lb.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}
