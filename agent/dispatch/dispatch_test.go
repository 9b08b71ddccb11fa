package dispatch_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/agent/config"
)

const code = "CT0700026"

// start runs a simulator and an agent against it; tune adjusts the
// agent's configuration.
func start(t *testing.T, simOpt agenttest.SimOptions, tune func(*config.Config)) (*agenttest.Sim, *agenttest.Agent, *agenttest.Customer, string) {
	t.Helper()
	simOpt.Machines = []string{code}
	sim := agenttest.StartSim(t, simOpt)
	cfg := sim.AgentConfig(code, t.TempDir())
	if tune != nil {
		tune(&cfg)
	}
	agent := agenttest.StartAgent(t, cfg)
	phone := agenttest.NewCustomer(t, agent.API())
	waitStatus(t, agent, "online")
	return sim, agent, phone, phone.FirstProduct(t)
}

func waitStatus(t *testing.T, a *agenttest.Agent, want string) {
	t.Helper()
	agenttest.Eventually(t, 10*time.Second, "machine "+want, func() bool {
		resp, err := http.Get(a.API() + "/status")
		if err != nil {
			return false
		}
		var st struct {
			Status string `json:"status"`
		}
		agenttest.MustJSON(t, resp, &st)
		return st.Status == want
	})
}

// An order left unpaid at the machine is released with a reason after
// queue.payment_timeout, and the next customer's order goes ahead.
func TestUnpaidOrderIsReleasedAndTheLineMovesOn(t *testing.T) {
	sim, agent, phone, product := start(t, agenttest.SimOptions{PayDelay: -1}, func(c *config.Config) {
		c.Queue.PaymentTimeout = 2 * time.Second
	})
	noShow := phone.Order(t, product)
	next := agenttest.NewCustomer(t, agent.API())
	second := next.Order(t, product)

	released := phone.WaitStatus(t, noShow.ID, "failed", 10*time.Second)
	if !strings.Contains(released.FailureReason, "not paid") {
		t.Fatalf("reason %q does not say it was not paid", released.FailureReason)
	}
	// The machine refuses new orders ("busy") until its own payment screen
	// gives up on the no-show; the next order waits at the head meanwhile.
	agenttest.Eventually(t, 10*time.Second, "the next order waits while the machine still holds the no-show", func() bool {
		return len(sim.Orders(t, code)) == 1 && next.Get(t, second.ID).Status == "queued"
	})
	sim.Admin(t, http.MethodPost, "/admin/orders/"+sim.Orders(t, code)[0].ID+"/fail", map[string]string{"reason": "payment screen timed out"}, nil)
	agenttest.Eventually(t, 10*time.Second, "second order at the machine", func() bool {
		return next.Get(t, second.ID).Stage == "awaiting_payment"
	})
	if n := len(sim.Orders(t, code)); n != 2 {
		t.Fatalf("machine saw %d orders, want 2", n)
	}
}

// The machine going offline before the order was paid puts it back at the
// head of the line (unpaid, it cannot have printed); it is sent again when
// the machine returns, up to queue.max_attempts, then fails with a reason
// the customer can read.
func TestOfflineBeforePaymentRequeuesAtHeadThenFails(t *testing.T) {
	sim, agent, phone, product := start(t, agenttest.SimOptions{PayDelay: -1}, func(c *config.Config) {
		c.Queue.MaxAttempts = 2
	})
	first := phone.Order(t, product)
	other := agenttest.NewCustomer(t, agent.API())
	second := other.Order(t, product)

	for attempt := 1; attempt <= 2; attempt++ {
		agenttest.Eventually(t, 10*time.Second, "first order awaiting payment", func() bool {
			return phone.Get(t, first.ID).Stage == "awaiting_payment"
		})
		sim.Admin(t, http.MethodPost, "/admin/machines/"+code+"/offline", nil, nil)
		waitStatus(t, agent, "offline")
		if attempt == 1 {
			back := phone.WaitStatus(t, first.ID, "queued", 10*time.Second)
			if back.QueuePosition != 1 || other.Get(t, second.ID).QueuePosition != 2 {
				t.Fatalf("after going offline: first at %d, second at %d; want 1 and 2",
					back.QueuePosition, other.Get(t, second.ID).QueuePosition)
			}
		}
		sim.Admin(t, http.MethodPost, "/admin/machines/"+code+"/online", nil, nil)
	}
	failed := phone.WaitStatus(t, first.ID, "failed", 10*time.Second)
	if !strings.Contains(failed.FailureReason, "offline") {
		t.Fatalf("reason %q does not say the printer went offline", failed.FailureReason)
	}
	agenttest.Eventually(t, 10*time.Second, "second order at the machine", func() bool {
		return other.Get(t, second.ID).Stage == "awaiting_payment"
	})
	if n := len(sim.Orders(t, code)); n != 3 {
		t.Fatalf("machine saw %d orders, want 3 (first twice, then second)", n)
	}
}

// The machine going offline while it prints an order leaves it of
// unknown outcome: never sent again (it may have printed), never failed
// (it may not have). It leaves the line, the next order goes once the
// machine is back, and the staff settle it at the dashboard.
func TestOfflineWhilePrintingLeavesItToTheStaff(t *testing.T) {
	sim, agent, phone, product := start(t, agenttest.SimOptions{PrintTime: time.Minute}, func(c *config.Config) {
		c.LAN.OperatorPIN = testPIN
	})
	first := phone.Order(t, product)
	other := agenttest.NewCustomer(t, agent.API())
	second := other.Order(t, product)
	phone.WaitStatus(t, first.ID, "printing", 10*time.Second)
	sim.Admin(t, http.MethodPost, "/admin/machines/"+code+"/offline", nil, nil)
	agenttest.Eventually(t, 10*time.Second, "first order of unknown outcome", func() bool {
		return phone.Get(t, first.ID).Stage == "unknown_outcome"
	})
	if got := other.Get(t, second.ID); got.QueuePosition != 1 {
		t.Fatalf("the next order is at place %d, want 1: the unknown one is out of the line", got.QueuePosition)
	}
	sim.Admin(t, http.MethodPost, "/admin/machines/"+code+"/online", nil, nil)
	other.WaitStatus(t, second.ID, "printing", 10*time.Second)
	if n := len(sim.Orders(t, code)); n != 2 {
		t.Fatalf("machine saw %d orders, want 2: the first is never sent again", n)
	}
	if got := phone.Get(t, first.ID); got.Stage != "unknown_outcome" || got.Status == "failed" {
		t.Fatalf("first order %s/%s, want still unknown", got.Status, got.Stage)
	}
	operate(t, agent, "orders/"+first.ID+"/printed", http.StatusOK)
	phone.WaitStatus(t, first.ID, "complete", 10*time.Second)
	operate(t, agent, "orders/"+first.ID+"/printed", http.StatusConflict)
}

// A refusal by the open API is retried after queue.retry_delay; a refusal
// that persists past queue.refusal_timeout fails the order with the
// platform's reason.
func TestRefusedOrderIsRetriedThenFailsWithTheReason(t *testing.T) {
	sim, _, phone, product := start(t, agenttest.SimOptions{}, func(c *config.Config) {
		c.Queue.RefusalTimeout = time.Second
	})
	sim.Admin(t, http.MethodPost, "/admin/faults", map[string]any{"call": "machineCreateOrder", "status": 500, "msg": "系统繁忙", "count": 1}, nil)
	once := phone.Order(t, product)
	phone.WaitStatus(t, once.ID, "complete", 15*time.Second)

	sim.Admin(t, http.MethodPost, "/admin/faults", map[string]any{"call": "machineCreateOrder", "status": 500, "msg": "设备故障"}, nil)
	never := phone.Order(t, product)
	failed := phone.WaitStatus(t, never.ID, "failed", 15*time.Second)
	if !strings.Contains(failed.FailureReason, "设备故障") {
		t.Fatalf("reason %q lacks the platform's message", failed.FailureReason)
	}
	if n := len(sim.Orders(t, code)); n != 1 {
		t.Fatalf("machine has %d orders, want 1: refusals create nothing", n)
	}
}

// A create-order call that times out after the platform created the order
// is not repeated: the machine fetching the print file shows it arrived,
// and the order's statuses are adopted.
func TestTimedOutSendIsNotRepeatedWhenTheMachineHasIt(t *testing.T) {
	sim, _, phone, product := start(t, agenttest.SimOptions{}, func(c *config.Config) {
		c.Chitu.Timeout = 300 * time.Millisecond
		c.Queue.ResendGrace = time.Minute
	})
	sim.Admin(t, http.MethodPost, "/admin/faults", map[string]any{"call": "machineCreateOrder", "delayMs": 2000, "count": 1}, nil)
	o := phone.Order(t, product)
	done := phone.WaitStatus(t, o.ID, "complete", 20*time.Second)
	seen := sim.Orders(t, code)
	if len(seen) != 1 {
		t.Fatalf("machine got %d orders, want exactly 1", len(seen))
	}
	if !strings.HasSuffix(seen[0].ID, done.PickupCode) || done.PickupCode == "" {
		t.Fatalf("pickup code %q is not the end of the adopted vendor order %s", done.PickupCode, seen[0].ID)
	}
}

// A send that failed at a gateway, with no sign after it, may or may not
// have created the order: it is of unknown outcome, never sent again by
// itself; the staff's Retry sends it, once.
func TestSendWithNoSignOfArrivalWaitsForTheStaff(t *testing.T) {
	sim, agent, phone, product := start(t, agenttest.SimOptions{}, func(c *config.Config) {
		c.Queue.ResendGrace = 300 * time.Millisecond
		c.LAN.OperatorPIN = testPIN
	})
	sim.Admin(t, http.MethodPost, "/admin/faults", map[string]any{"call": "machineCreateOrder", "httpStatus": 502, "count": 1}, nil)
	o := phone.Order(t, product)
	agenttest.Eventually(t, 10*time.Second, "order of unknown outcome", func() bool {
		return phone.Get(t, o.ID).Stage == "unknown_outcome"
	})
	next := phone.Order(t, product)
	phone.WaitStatus(t, next.ID, "complete", 20*time.Second) // the line moves on
	if got := phone.Get(t, o.ID); got.Stage != "unknown_outcome" {
		t.Fatalf("the first order went %s by itself", got.Stage)
	}
	operate(t, agent, "orders/"+o.ID+"/retry", http.StatusOK)
	phone.WaitStatus(t, o.ID, "complete", 20*time.Second)
	if n := len(sim.Orders(t, code)); n != 2 {
		t.Fatalf("machine got %d orders, want 2 (the retried one once)", n)
	}
}

// A create-order answer so late that the order was taken for unknown is
// settled by the machine's own word when it comes: the order is adopted
// and prints, once.
func TestALateWordSettlesAnUnknownOrder(t *testing.T) {
	sim, _, phone, product := start(t, agenttest.SimOptions{}, func(c *config.Config) {
		c.Chitu.Timeout = 300 * time.Millisecond
		c.Queue.ResendGrace = 300 * time.Millisecond
	})
	// The platform creates the order 2 s after being asked, long after the
	// agent gave up on the call and on waiting for a sign; and the machine
	// is slow to fetch the print file.
	sim.Admin(t, http.MethodPost, "/admin/faults", map[string]any{"call": "machineCreateOrder", "delayMs": 2000, "count": 1}, nil)
	o := phone.Order(t, product)
	done := phone.WaitStatus(t, o.ID, "complete", 30*time.Second)
	if n := len(sim.Orders(t, code)); n != 1 || !strings.HasSuffix(sim.Orders(t, code)[0].ID, done.PickupCode) {
		t.Fatalf("machine got %d orders, want exactly 1, adopted", n)
	}
}

const testPIN = "735194"

// operate calls the operator API of the dashboard and expects want.
func operate(t *testing.T, a *agenttest.Agent, action string, want int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/operator/api/"+action, nil)
	req.Header.Set("Authorization", "Bearer "+testPIN)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s: %s, want %d", action, resp.Status, want)
	}
}

// The machine reporting a failed print fails the order with a reason.
func TestMachineFailureReachesTheCustomer(t *testing.T) {
	sim, _, phone, product := start(t, agenttest.SimOptions{PayDelay: -1}, nil)
	o := phone.Order(t, product)
	agenttest.Eventually(t, 10*time.Second, "order at the machine", func() bool {
		return phone.Get(t, o.ID).Stage == "awaiting_payment"
	})
	vendor := sim.Orders(t, code)[0].ID
	sim.Admin(t, http.MethodPost, "/admin/orders/"+vendor+"/pay", nil, nil)
	phone.WaitStatus(t, o.ID, "printing", 10*time.Second)
	sim.Admin(t, http.MethodPost, "/admin/orders/"+vendor+"/fail", map[string]string{"reason": "head jam"}, nil)
	failed := phone.WaitStatus(t, o.ID, "failed", 10*time.Second)
	if failed.FailureReason == "" {
		t.Fatal("no failure reason")
	}
}

// An operator's pause outlives the agent: after a restart on the same data
// no order goes to the machine until the queue is resumed.
func TestPauseOutlivesARestart(t *testing.T) {
	const pin = "864213"
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{code}})
	cfg := sim.AgentConfig(code, t.TempDir())
	cfg.LAN.OperatorPIN = pin
	operator := func(a *agenttest.Agent, method, action string, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, a.URL+"/operator/api/"+action, nil)
		req.Header.Set("Authorization", "Bearer "+pin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			t.Fatalf("%s %s: %s", method, action, resp.Status)
		}
		if out == nil {
			resp.Body.Close()
			return
		}
		agenttest.MustJSON(t, resp, out)
	}
	agent := agenttest.StartAgent(t, cfg)
	waitStatus(t, agent, "online")
	operator(agent, http.MethodPost, "pause", nil)
	agent.Stop(t)

	agent = agenttest.StartAgent(t, cfg)
	waitStatus(t, agent, "online")
	phone := agenttest.NewCustomer(t, agent.API())
	o := phone.Order(t, phone.FirstProduct(t))
	// The dispatcher reads the printer, then looks at the line, on every
	// poll: once it has read the printer twice since the order came, it
	// has looked at the line with the order in it.
	var contacts []time.Time
	agenttest.Eventually(t, 20*time.Second, "two polls of the printer after the order", func() bool {
		var st struct {
			Machine struct {
				Paused      bool       `json:"paused"`
				LastContact *time.Time `json:"lastContact"`
			} `json:"machine"`
		}
		operator(agent, http.MethodGet, "state", &st)
		if !st.Machine.Paused {
			t.Fatal("the queue was paused before the restart; after it the dashboard says it is not")
		}
		if c := st.Machine.LastContact; c != nil && c.After(o.CreatedAt) && (len(contacts) == 0 || !c.Equal(contacts[len(contacts)-1])) {
			contacts = append(contacts, *c)
		}
		return len(contacts) >= 2
	})
	if got := phone.Get(t, o.ID); got.Status != "queued" || len(sim.Orders(t, code)) != 0 {
		t.Fatalf("the queue is paused, yet the order went to the machine: %s, the machine has %d orders", got.Status, len(sim.Orders(t, code)))
	}

	operator(agent, http.MethodPost, "resume", nil)
	phone.WaitStatus(t, o.ID, "complete", 30*time.Second)
}
