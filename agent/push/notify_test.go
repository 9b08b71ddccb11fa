package push

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/agent/daemon"
	"casefleet/agent/push/pushtest"
	"casefleet/agent/queue"
)

// startAgent runs a real agent against sim with this package wired in the
// way the agent's command does, and returns it with its push Service.
func startAgent(t *testing.T, sim *agenttest.Sim, code string, tune func(*Options)) (*agenttest.Agent, *Service) {
	t.Helper()
	cfg := sim.AgentConfig(code, t.TempDir())
	cfg.Chitu.PrintFormat = "png" // quicker to write than TIFF under the race detector
	svcs := make(chan *Service, 1)
	a := agenttest.StartAgentWith(t, cfg, daemon.Options{
		Push: func(p daemon.Parts) (http.Handler, func(context.Context) error, error) {
			opt := Options{
				DB: p.DB, Queue: p.Queue, Sessions: p.Sessions,
				MachineCode: p.Config.Machine.Code, MachineName: p.Config.Machine.Name,
				AllowedHosts: []string{"127.0.0.1"}, RetryDelay: 10 * time.Millisecond, Logger: p.Logger,
			}
			if tune != nil {
				tune(&opt)
			}
			svc, err := New(opt)
			if err != nil {
				return nil, nil, err
			}
			svcs <- svc
			return svc.Handler(), svc.Run, nil
		},
	})
	return a, <-svcs
}

// subscribe posts b's subscription for the customer's session.
func subscribe(t *testing.T, a *agenttest.Agent, c *agenttest.Customer, b *pushtest.Browser, lang string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.API()+"/push", strings.NewReader(b.Subscription(lang)))
	req.Header.Set("X-Session-Id", c.SessionID)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("subscribe: %s", resp.Status)
	}
}

// open checks a delivery as the push service and the browser would (see
// pushtest.PushService.Open), and what this sender adds: TTLs of at most
// the longest notice's life, an urgency of high or normal, the default
// VAPID contact. It returns the notice the service worker would get.
func open(t *testing.T, d pushtest.Delivery, b *pushtest.Browser, ps *pushtest.PushService, publicKey string) payload {
	t.Helper()
	plain, claims := ps.Open(t, d, b, publicKey)
	if ttl, _ := strconv.Atoi(d.Header.Get("TTL")); ttl <= 0 || ttl > 6*3600 {
		t.Errorf("TTL %q", d.Header.Get("TTL"))
	}
	if u := d.Header.Get("Urgency"); u != "high" && u != "normal" {
		t.Errorf("Urgency %q", u)
	}
	if claims.Sub != DefaultSubject {
		t.Errorf("VAPID contact %q, want %q", claims.Sub, DefaultSubject)
	}
	if exp := time.Unix(claims.Exp, 0); time.Until(exp) <= time.Hour {
		t.Errorf("token expires at %v, in under an hour", exp)
	}
	var p payload
	if err := json.Unmarshal(plain, &p); err != nil {
		t.Fatalf("payload %q: %v", plain, err)
	}
	return p
}

func TestNotifiesTheCustomersTurnToPayAndTheFinishedCase(t *testing.T) {
	sim := agenttest.StartSim(t, agenttest.SimOptions{PayDelay: -1}) // pays when told
	ps := pushtest.NewPushService(t)
	a, svc := startAgent(t, sim, "CT0700026", nil)

	// The key the web app fetches is the one the agent signs with.
	var key struct{ PublicKey string }
	resp, err := http.Get(a.API() + "/push/key")
	if err != nil {
		t.Fatal(err)
	}
	agenttest.MustJSON(t, resp, &key)
	if key.PublicKey != svc.PublicKey() {
		t.Fatalf("GET push/key %q, the service signs with %q", key.PublicKey, svc.PublicKey())
	}

	c := agenttest.NewCustomer(t, a.API())
	b := pushtest.NewBrowser(t, ps.URL+"/push/customer-1")
	subscribe(t, a, c, b, "en")
	product := c.FirstProduct(t)
	o := c.Order(t, product)

	pay := open(t, ps.Next(t, 20*time.Second), b, ps, key.PublicKey)
	if pay.Kind != KindPay || pay.OrderID != o.ID || pay.Title != "Your turn: pay at the kiosk now" {
		t.Fatalf("first notice %+v, want the call to pay for %s", pay, o.ID)
	}
	if !strings.Contains(pay.Body, "Test kiosk CT0700026") || pay.URL != "/editor?machine=CT0700026" || pay.Tag != "order-"+o.ID {
		t.Errorf("pay notice %+v", pay)
	}

	// The customer pays at the machine; the case prints.
	vendor := sim.Orders(t, "CT0700026")
	if len(vendor) == 0 {
		t.Fatal("the machine has no order")
	}
	sim.Admin(t, http.MethodPost, "/admin/orders/"+vendor[0].ID+"/pay", nil, nil)
	done := c.WaitStatus(t, o.ID, "complete", 20*time.Second)

	d := ps.Next(t, 20*time.Second)
	ready := open(t, d, b, ps, key.PublicKey)
	if ready.Kind != KindReady || ready.OrderID != o.ID || ready.Title != "Your case is ready" {
		t.Fatalf("second notice %+v, want the ready case", ready)
	}
	if done.PickupCode == "" || ready.PickupCode != done.PickupCode || !strings.Contains(ready.Body, "Pickup code "+done.PickupCode) {
		t.Errorf("ready notice %+v, order's pickup code %q", ready, done.PickupCode)
	}
	if d.Header.Get("Topic") != o.ID || d.Header.Get("Urgency") != "high" {
		t.Errorf("headers Topic %q Urgency %q", d.Header.Get("Topic"), d.Header.Get("Urgency"))
	}
	if d.Path != "/push/customer-1" {
		t.Errorf("sent to %s", d.Path)
	}

	// Each notice is sent once: the next message is about the next order,
	// not a repeat of this one's.
	second := c.Order(t, product)
	if next := open(t, ps.Next(t, 20*time.Second), b, ps, key.PublicKey); next.OrderID != second.ID || next.Kind != KindPay {
		t.Fatalf("after the ready notice came %+v, want the call to pay for the next order", next)
	}
}

func TestNoticesAreInTheSubscribersLanguage(t *testing.T) {
	sim := agenttest.StartSim(t, agenttest.SimOptions{})
	ps := pushtest.NewPushService(t)
	a, svc := startAgent(t, sim, "CT0700026", nil)
	c := agenttest.NewCustomer(t, a.API())
	b := pushtest.NewBrowser(t, ps.URL+"/push/ar")
	subscribe(t, a, c, b, "ar")
	c.Order(t, c.FirstProduct(t))

	for want := range 2 {
		p := open(t, ps.Next(t, 20*time.Second), b, ps, svc.PublicKey())
		kinds := []string{KindPay, KindReady}
		if p.Kind != kinds[want] || p.Lang != "ar" || p.Dir != "rtl" || p.Title != messages("ar", p.Kind, "", "").title {
			t.Fatalf("notice %d: %+v", want, p)
		}
	}
}

func TestExpiredSubscriptionIsForgottenAndBusyServiceIsRetried(t *testing.T) {
	sim := agenttest.StartSim(t, agenttest.SimOptions{})
	gone := pushtest.NewPushService(t, http.StatusGone)
	busy := pushtest.NewPushService(t, http.StatusServiceUnavailable, http.StatusTooManyRequests) // then 201
	a, svc := startAgent(t, sim, "CT0700026", nil)
	product := agenttest.NewCustomer(t, a.API()).FirstProduct(t)

	left := agenttest.NewCustomer(t, a.API())
	subscribe(t, a, left, pushtest.NewBrowser(t, gone.URL+"/push/old"), "en")
	stays := agenttest.NewCustomer(t, a.API())
	sb := pushtest.NewBrowser(t, busy.URL+"/push/new")
	subscribe(t, a, stays, sb, "en")

	left.Order(t, product)
	gone.Next(t, 20*time.Second) // 410 Gone
	agenttest.Eventually(t, 10*time.Second, "the gone subscription is forgotten", func() bool {
		_, ok, _ := svc.store.get(left.SessionID)
		return !ok
	})

	stays.Order(t, product)
	for range 2 { // 503, then 429
		busy.Next(t, 20*time.Second)
	}
	p := open(t, busy.Next(t, 20*time.Second), sb, busy, svc.PublicKey())
	if p.Kind != KindPay {
		t.Fatalf("after two refusals got %+v, want the call to pay", p)
	}
	if _, ok, _ := svc.store.get(stays.SessionID); !ok {
		t.Fatal("a busy push service cost the customer their subscription")
	}
}

func TestResumesAfterRestartWithoutRepeatingOrReplayingHistory(t *testing.T) {
	p := newParts(t, nil)
	ps := pushtest.NewPushService(t)
	sess, _, err := p.sessions.Start("CT0700026", "")
	if err != nil {
		t.Fatal(err)
	}
	b := pushtest.NewBrowser(t, ps.URL+"/push/x")
	sub, _ := ParseSubscription([]byte(b.Subscription("en")))
	if err := p.svc.store.put(record{SessionID: sess.SessionID, Endpoint: sub.Endpoint, P256DH: sub.P256DH, Auth: sub.Auth, Lang: "en"}); err != nil {
		t.Fatal(err)
	}
	complete := func() queue.Order {
		o, err := p.queue.Enqueue(queue.Order{SessionID: sess.SessionID, MachineCode: "CT0700026", ProductID: "101", PrintFile: queue.NewID()})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		o, err = p.queue.Update(o.ID, func(o *queue.Order) error {
			o.Status, o.Stage, o.CompletedAt, o.StartedAt = queue.StatusComplete, queue.StageComplete, &now, &now
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}

	// History from before the first start is not notified.
	complete()
	cursor, err := p.svc.startCursor()
	if err != nil {
		t.Fatal(err)
	}
	// An order completes while the notifier is down: it is sent once
	// the notifier runs again from its stored cursor.
	o := complete()
	if again, _ := p.svc.startCursor(); again != cursor {
		t.Fatalf("cursor moved from %d to %d without running", cursor, again)
	}
	p.run(t)
	got := open(t, ps.Next(t, 10*time.Second), b, ps, p.svc.PublicKey())
	if got.OrderID != o.ID || got.Kind != KindReady {
		t.Fatalf("got %+v, want the ready notice for %s", got, o.ID)
	}
	if d, ok := ps.Pending(); ok {
		t.Fatalf("an extra message arrived: %s", d.Path)
	}
}
