package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/agent/config"
)

// TestAnOrderOfUnknownOutcome: the send of a customer's order is cut at
// the vendor's gateway and the machine never says whether it got it. The
// phone says to ask the staff (in the customer's language) instead of
// "failed" or a second try; the staff look at the printer and mark it
// printed, and the phone says the case is ready.
func TestAnOrderOfUnknownOutcome(t *testing.T) {
	browser(t)
	const pin = "951357"
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{"CT0700026"}})
	agent := startKiosk(t, sim, "CT0700026", "Mall 3F, east escalator", "mall-3f", func(c *config.Config) {
		c.Queue.ResendGrace = 300 * time.Millisecond
		c.LAN.OperatorPIN = pin
	})
	fd := newFrontDoor(t, agent)
	sim.Admin(t, http.MethodPost, "/admin/faults", map[string]any{"call": "machineCreateOrder", "httpStatus": 502, "count": 1}, nil)

	p := newPhone(t, "sofia", "es-ES,es")
	order(p, fd.editorURL("CT0700026", "mall-3f"), tartanPhoto(t, 900, 1400))
	es := appStrings(t, "es")
	p.waitFor("ask the staff", `document.getElementById('v-status').dataset.screen === 'unknown'`, 20*time.Second)
	if got := p.text("status-title"); got != es["status.unknown.title"] {
		t.Errorf("title %q, want %q", got, es["status.unknown.title"])
	}
	if got, want := p.text("status-text"), strings.ReplaceAll(es["status.unknown.text"], "{machine}", "Mall 3F, east escalator"); got != want {
		t.Errorf("text %q, want %q", got, want)
	}
	if !eval[bool](p, `document.getElementById('cancel-btn').hidden && document.getElementById('retry-btn').hidden`) {
		t.Error("the phone offers to cancel or retry an order only the staff can settle")
	}
	if n := len(sim.Orders(t, "CT0700026")); n != 0 {
		t.Fatalf("the machine has %d orders: the order was sent again", n)
	}

	id := eval[string](p, `import('casefleet/status').then(m => m.currentOrder().id)`)
	req, _ := http.NewRequest(http.MethodPost, agent.URL+"/operator/api/orders/"+id+"/printed", nil)
	req.Header.Set("Authorization", "Bearer "+pin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("mark printed: %v %v", resp, err)
	}
	resp.Body.Close()
	p.waitFor("ready", `document.getElementById('v-status').dataset.screen === 'done'`, 20*time.Second)
}
