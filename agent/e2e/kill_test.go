package e2e

import (
	"net/http"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/shared/testenv"
)

const code = "CT0700026"

// kiosk is a simulator process and an agent process that can be killed
// and restarted on the same data directory and address.
type kiosk struct {
	t       *testing.T
	sim     *simProc
	admin   *agenttest.Sim // the simulator's admin API
	env     []string
	agent   *testenv.Process
	api     string
	lanAddr string
}

func startKiosk(t *testing.T, simArgs []string, agentExtra ...string) *kiosk {
	t.Helper()
	s := startSim(t, []string{code}, simArgs...)
	k := &kiosk{t: t, sim: s, admin: &agenttest.Sim{URL: s.URL}, lanAddr: testenv.FreeAddr(t)}
	k.env = agentEnv(code, t.TempDir(), k.lanAddr, s.URL, "tcp://"+s.mqttAddr(), agentExtra...)
	k.api = "http://" + k.lanAddr + "/api/chitu/machine/" + code
	k.startAgent()
	return k
}

func (k *kiosk) startAgent() {
	k.t.Helper()
	k.agent = startProc(k.t, "casefleet-agent", k.env, "run")
	waitHTTP(k.t, "http://"+k.lanAddr+"/healthz")
}

// crash kills the agent with SIGKILL and starts it again.
func (k *kiosk) crash() {
	k.t.Helper()
	k.agent.Kill()
	k.startAgent()
}

func (k *kiosk) waitOnline() {
	k.t.Helper()
	testenv.Eventually(k.t, 15*time.Second, "machine online", func() bool {
		resp, err := http.Get(k.api + "/status")
		if err != nil {
			return false
		}
		var st struct{ Status string }
		agenttest.MustJSON(k.t, resp, &st)
		return st.Status == "online"
	})
}

func (k *kiosk) vendorOrders() int { return len(k.admin.Orders(k.t, code)) }

func (k *kiosk) pay() {
	k.t.Helper()
	orders := k.admin.Orders(k.t, code)
	k.admin.Admin(k.t, http.MethodPost, "/admin/orders/"+orders[len(orders)-1].ID+"/pay", nil, nil)
}

// An acknowledged order survives kill -9 of the agent at every step of its
// life: after the restart it is there in the right state, it completes, and
// the machine received it exactly once.
func TestKillNineAtEachStepOfAnOrder(t *testing.T) {
	steps := []struct {
		name    string
		simArgs []string
		env     []string
		before  func(k *kiosk)                                   // before the order
		reach   func(k *kiosk, p *agenttest.Customer, id string) // until the step
		want    func(o agenttest.Order) bool                     // the state right after the restart
		finish  func(k *kiosk)                                   // drive it to the end
	}{
		{
			name:    "while the create-order call is in flight",
			simArgs: []string{"--print-seconds", "0.3", "--pay-seconds", "-1"},
			env:     []string{"CASEFLEET_CHITU_TIMEOUT=20s", "CASEFLEET_QUEUE_RESEND_GRACE=2m"},
			before: func(k *kiosk) {
				// The platform creates the order, then answers 5 s later.
				k.admin.Admin(k.t, http.MethodPost, "/admin/faults", map[string]any{"call": "machineCreateOrder", "delayMs": 5000, "count": 1}, nil)
			},
			reach: func(k *kiosk, p *agenttest.Customer, id string) {
				testenv.Eventually(k.t, 10*time.Second, "order created at the machine", func() bool { return k.vendorOrders() == 1 })
			},
			// Right after the restart it may already be adopted: the status
			// the platform published while the agent was down comes from the
			// persistent session.
			want: func(o agenttest.Order) bool {
				return o.Stage == "sending" || o.Stage == "sent" || o.Stage == "awaiting_payment"
			},
			finish: func(k *kiosk) { k.pay() },
		},
		{
			name:    "awaiting payment at the machine",
			simArgs: []string{"--print-seconds", "0.3", "--pay-seconds", "-1"},
			reach: func(k *kiosk, p *agenttest.Customer, id string) {
				testenv.Eventually(k.t, 10*time.Second, "awaiting payment", func() bool { return p.Get(k.t, id).Stage == "awaiting_payment" })
			},
			want:   func(o agenttest.Order) bool { return o.Stage == "awaiting_payment" },
			finish: func(k *kiosk) { k.pay() },
		},
		{
			name:    "printing",
			simArgs: []string{"--print-seconds", "4", "--pay-seconds", "0"},
			reach: func(k *kiosk, p *agenttest.Customer, id string) {
				p.WaitStatus(k.t, id, "printing", 10*time.Second)
			},
			want:   func(o agenttest.Order) bool { return o.Status == "printing" || o.Status == "complete" },
			finish: func(k *kiosk) {},
		},
		{
			name:    "complete",
			simArgs: []string{"--print-seconds", "0.2", "--pay-seconds", "0"},
			reach: func(k *kiosk, p *agenttest.Customer, id string) {
				p.WaitStatus(k.t, id, "complete", 10*time.Second)
			},
			want:   func(o agenttest.Order) bool { return o.Status == "complete" && o.PickupCode != "" },
			finish: func(k *kiosk) {},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			k := startKiosk(t, st.simArgs, st.env...)
			k.waitOnline()
			phone := agenttest.NewCustomer(t, k.api)
			product := phone.FirstProduct(t)
			if st.before != nil {
				st.before(k)
			}
			o := phone.Order(t, product)
			st.reach(k, phone, o.ID)

			k.crash()

			after := phone.Get(t, o.ID)
			if !st.want(after) {
				t.Fatalf("after kill -9 the order reads %+v", after)
			}
			st.finish(k)
			done := phone.WaitStatus(t, o.ID, "complete", 30*time.Second)
			if n := k.vendorOrders(); n != 1 {
				t.Fatalf("the machine received the order %d times, want exactly once", n)
			}
			if seen := k.admin.Orders(t, code)[0]; seen.ImageURL != done.ImageURL {
				t.Fatalf("the machine's order prints %s, the agent's %s", seen.ImageURL, done.ImageURL)
			}
		})
	}
}

// An order waiting in line behind another survives kill -9 in its place,
// and both reach the machine exactly once.
func TestKillNineWithAnOrderWaitingInLine(t *testing.T) {
	k := startKiosk(t, []string{"--print-seconds", "0.3", "--pay-seconds", "-1"})
	k.waitOnline()
	phone := agenttest.NewCustomer(t, k.api)
	product := phone.FirstProduct(t)
	first := phone.Order(t, product)
	second := phone.Order(t, product)
	testenv.Eventually(t, 10*time.Second, "first order awaiting payment", func() bool {
		return phone.Get(t, first.ID).Stage == "awaiting_payment"
	})

	k.crash()

	if got := phone.Get(t, second.ID); got.Status != "queued" || got.QueuePosition != 2 {
		t.Fatalf("after kill -9 the waiting order reads %+v, want queued at position 2", got)
	}
	k.pay()
	phone.WaitStatus(t, first.ID, "complete", 20*time.Second)
	testenv.Eventually(t, 10*time.Second, "second order at the machine", func() bool {
		return phone.Get(t, second.ID).Stage == "awaiting_payment"
	})
	k.pay()
	phone.WaitStatus(t, second.ID, "complete", 20*time.Second)
	if n := k.vendorOrders(); n != 2 {
		t.Fatalf("the machine received %d orders, want 2", n)
	}
}
