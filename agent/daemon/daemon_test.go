package daemon_test

import (
	"net/http"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/shared/summary"
)

// An order placed over HTTP reaches the (simulated) machine once, is paid,
// printed and completed, and the customer sees every step.
func TestOrderFromHTTPToComplete(t *testing.T) {
	sim := agenttest.StartSim(t, agenttest.SimOptions{PrintTime: 200 * time.Millisecond})
	agent := agenttest.StartAgent(t, sim.AgentConfig("CT0700026", t.TempDir()))
	phone := agenttest.NewCustomer(t, agent.API())
	waitOnline(t, agent)

	o := phone.Order(t, phone.FirstProduct(t))
	if o.Status != "queued" || o.QueuePosition != 1 || o.ID == "" {
		t.Fatalf("new order: %+v", o)
	}
	done := phone.WaitStatus(t, o.ID, "complete", 20*time.Second)
	if done.PickupCode == "" || done.CompletedAt == nil || done.StartedAt == nil || done.DeviceID == "" {
		t.Fatalf("completed order lacks pickup code or times: %+v", done)
	}
	seen := sim.Orders(t, "CT0700026")
	if len(seen) != 1 {
		t.Fatalf("the machine got %d orders, want exactly 1: %+v", len(seen), seen)
	}
	if seen[0].ImageURL != done.ImageURL || !seen[0].Fetch.OK {
		t.Fatalf("machine's order %+v does not match the agent's %+v", seen[0], done)
	}
}

func waitOnline(t *testing.T, a *agenttest.Agent) {
	t.Helper()
	agenttest.Eventually(t, 10*time.Second, "machine online", func() bool {
		resp, err := http.Get(a.API() + "/status")
		if err != nil {
			return false
		}
		var st struct {
			Status string `json:"status"`
		}
		agenttest.MustJSON(t, resp, &st)
		return st.Status == "online"
	})
}

// Finished orders older than queue.keep_finished are deleted, the first
// time when the agent starts.
func TestFinishedOrdersArePrunedAfterKeepFinished(t *testing.T) {
	sim := agenttest.StartSim(t, agenttest.SimOptions{PrintTime: 100 * time.Millisecond})
	cfg := sim.AgentConfig("CT0700026", t.TempDir())
	cfg.Queue.KeepFinished = 0 // kept for ever
	agent := agenttest.StartAgent(t, cfg)
	waitOnline(t, agent)
	phone := agenttest.NewCustomer(t, agent.API())
	o := phone.Order(t, phone.FirstProduct(t))
	phone.WaitStatus(t, o.ID, "complete", 20*time.Second)
	agent.Stop(t)

	// status is the answer to the customer asking for the order: 200, or
	// the error's code.
	status := func(a *agenttest.Agent) string {
		req, _ := http.NewRequest(http.MethodGet, a.API()+"/queue/"+o.ID, nil)
		req.Header.Set("X-Session-Id", phone.SessionID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusOK {
			resp.Body.Close()
			return "200"
		}
		var e struct{ Error struct{ Code string } }
		agenttest.MustJSON(t, resp, &e)
		return e.Error.Code
	}
	cfg.Queue.KeepFinished = time.Hour
	agent = agenttest.StartAgent(t, cfg)
	if got := status(agent); got != "200" {
		t.Fatalf("an order finished a moment ago, kept for an hour: %s", got)
	}
	agent.Stop(t)

	cfg.Queue.KeepFinished = time.Millisecond
	agent = agenttest.StartAgent(t, cfg)
	agenttest.Eventually(t, 10*time.Second, "the finished order is deleted", func() bool { return status(agent) == "unknown_order" })
}

// The relay's summary is served on the tunnel only: the LAN listener,
// which anyone on the shop floor reaches, does not answer it.
func TestSummaryIsNotOnTheLAN(t *testing.T) {
	sim := agenttest.StartSim(t, agenttest.SimOptions{})
	agent := agenttest.StartAgent(t, sim.AgentConfig("CT0700026", t.TempDir()))
	resp, err := http.Get(agent.URL + summary.Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET %s on the LAN: %d, want 404", summary.Path, resp.StatusCode)
	}
}
