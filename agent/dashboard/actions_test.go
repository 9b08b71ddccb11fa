package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/agent/chitu/sim"
	"casefleet/agent/dashboard"
	"casefleet/agent/queue"
	"casefleet/shared/qr/qrtest"
	"casefleet/shared/tunnel"
)

func TestPauseHoldsNewOrdersBackUntilResume(t *testing.T) {
	k := startKiosk(t, kioskOptions{})
	op := k.operator(t)
	var answer struct{ Paused bool }
	op.must(http.MethodPost, "/operator/api/pause", http.StatusOK, &answer)
	if !answer.Paused || !op.state().Machine.Paused {
		t.Fatal("the queue does not say it is paused")
	}

	c := k.customer(t)
	order := k.order(t, c)
	k.waitPolls(t, 2)
	if got := k.Sim.Orders(t, testCode); len(got) != 0 {
		t.Fatalf("while paused the machine got %d orders", len(got))
	}
	s := op.state()
	if len(s.Queue) != 1 || s.Queue[0].ID != order.ID || s.Queue[0].Stage != "queued" || s.Queue[0].Position != 1 {
		t.Fatalf("queue while paused: %+v", s.Queue)
	}

	op.must(http.MethodPost, "/operator/api/resume", http.StatusOK, &answer)
	if answer.Paused {
		t.Fatal("resume answered paused")
	}
	agenttest.Eventually(t, 20*time.Second, "the machine gets the order after resume", func() bool {
		return len(k.Sim.Orders(t, testCode)) == 1
	})
	if got := c.Get(t, order.ID); got.Stage == "queued" {
		t.Errorf("after resume the customer still sees %s", got.Stage)
	}
}

func TestStateShowsTheQueueWithAgesAndStagesButNoCustomerKeys(t *testing.T) {
	k := startKiosk(t, kioskOptions{PayDelay: -1})
	op := k.operator(t)
	c := k.customer(t)
	first := k.order(t, c)
	s := op.waitState("the first order reaches the machine", func(s dashboard.State) bool {
		return len(s.Queue) == 1 && s.Queue[0].Stage == string(queue.StageAwaitingPayment)
	})
	second := k.order(t, c)

	resp := op.do(http.MethodGet, "/operator/api/state")
	raw := body(t, resp)
	if strings.Contains(raw, c.SessionID) {
		t.Fatal("the dashboard shows a customer's session id (it is their key)")
	}
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Queue) != 2 {
		t.Fatalf("queue %+v", s.Queue)
	}
	at, next := s.Queue[0], s.Queue[1]
	switch {
	case at.ID != first.ID || !at.AtMachine || at.PickupCode == "" || at.SentAt == nil || at.Attempts != 1:
		t.Errorf("order at the machine: %+v", at)
	case next.ID != second.ID || next.AtMachine || next.Stage != "queued" || next.Position != 2:
		t.Errorf("order in line: %+v", next)
	case s.Machine.CurrentOrder != first.ID || s.Machine.Status != "printing" || !s.Machine.MQTTConnected:
		t.Errorf("machine: %+v", s.Machine)
	case s.ServerTime.Before(next.CreatedAt) || s.ServerTime.Sub(next.CreatedAt) > time.Minute:
		t.Errorf("server time %v against created %v: the page cannot count the age", s.ServerTime, next.CreatedAt)
	case s.Machine.Code != testCode || s.Machine.Name == "" || s.Machine.InkLevels.Cyan != "ok":
		t.Errorf("machine identity or ink: %+v", s.Machine)
	case s.Tunnel.Configured || s.QR.URL != "" || s.QR.Error == "":
		t.Errorf("without a relay: tunnel %+v, QR %+v", s.Tunnel, s.QR)
	}
}

func TestCancelAnOrderWaitingInLine(t *testing.T) {
	k := startKiosk(t, kioskOptions{})
	op := k.operator(t)
	op.must(http.MethodPost, "/operator/api/pause", http.StatusOK, nil)
	c := k.customer(t)
	order := k.order(t, c)

	var answer struct {
		Order     dashboard.Order
		AtMachine bool
		Warning   string
	}
	op.must(http.MethodPost, "/operator/api/orders/"+order.ID+"/cancel", http.StatusOK, &answer)
	if answer.Order.Status != "cancelled" || answer.AtMachine || answer.Warning != "" {
		t.Fatalf("cancel answered %+v", answer)
	}
	got := c.Get(t, order.ID)
	if got.Status != "cancelled" || got.CancelledBy != "staff" || !strings.Contains(got.FailureReason, "staff") {
		t.Fatalf("the customer sees %+v", got)
	}
	if s := op.state(); len(s.Queue) != 0 {
		t.Fatalf("queue after cancel: %+v", s.Queue)
	}
	resp := op.do(http.MethodPost, "/operator/api/orders/"+order.ID+"/cancel")
	if code := errorCode(t, resp); resp.StatusCode != http.StatusConflict || code != "finished" {
		t.Errorf("cancelling twice: %s %s, want 409 finished", resp.Status, code)
	}
	op.must(http.MethodPost, "/operator/api/resume", http.StatusOK, nil)
	k.waitPolls(t, 2)
	if n := len(k.Sim.Orders(t, testCode)); n != 0 {
		t.Errorf("the cancelled order reached the machine (%d orders)", n)
	}
}

func TestCancelAnOrderAtTheMachineWarnsItMayStillPrint(t *testing.T) {
	k := startKiosk(t, kioskOptions{PayDelay: -1})
	op := k.operator(t)
	c := k.customer(t)
	first := k.order(t, c)
	second := k.order(t, c)
	op.waitState("the first order waits for payment at the machine", func(s dashboard.State) bool {
		return len(s.Queue) == 2 && s.Queue[0].Stage == string(queue.StageAwaitingPayment)
	})

	var answer struct {
		Order     dashboard.Order
		AtMachine bool
		Warning   string
	}
	op.must(http.MethodPost, "/operator/api/orders/"+first.ID+"/cancel", http.StatusOK, &answer)
	if !answer.AtMachine || !strings.Contains(answer.Warning, "may still print") {
		t.Fatalf("cancel at the machine answered %+v", answer)
	}
	if got := c.Get(t, first.ID); got.Status != "cancelled" {
		t.Fatalf("the customer sees %s", got.Status)
	}
	// The machine still holds the order (the vendor has no cancel call):
	// here the customer pays at the machine anyway and it prints. The
	// agent ignores it, and the line moves on once the machine is free.
	vendor := k.Sim.Orders(t, testCode)
	if len(vendor) != 1 {
		t.Fatalf("machine orders %+v", vendor)
	}
	k.Sim.Admin(t, http.MethodPost, "/admin/orders/"+vendor[0].ID+"/pay", nil, nil)
	agenttest.Eventually(t, 20*time.Second, "the next order is sent once the machine is free", func() bool {
		return len(k.Sim.Orders(t, testCode)) == 2
	})
	if got := c.Get(t, first.ID); got.Status != "cancelled" {
		t.Errorf("the cancelled order became %s when the machine printed it", got.Status)
	}
	if got := c.Get(t, second.ID); got.Stage == "queued" {
		t.Errorf("second order still %s", got.Stage)
	}
}

func TestRetryPutsAFailedOrderBackInLine(t *testing.T) {
	k := startKiosk(t, kioskOptions{PayDelay: -1})
	op := k.operator(t)
	c := k.customer(t)
	order := k.order(t, c)
	var vendor []sim.OrderView
	agenttest.Eventually(t, 20*time.Second, "the order reaches the machine", func() bool {
		vendor = k.Sim.Orders(t, testCode)
		return len(vendor) == 1 && vendor[0].Status == "pending"
	})
	k.Sim.Admin(t, http.MethodPost, "/admin/orders/"+vendor[0].ID+"/fail", map[string]string{"reason": "print head jammed"}, nil)
	// The queue and the failures are read one after the other, so a state
	// taken while the order fails may show it in both; the next one settles.
	s := op.waitState("the failure shows with its reason, out of the queue", func(s dashboard.State) bool {
		return len(s.Failures) == 1 && s.Failures[0].ID == order.ID && s.Failures[0].FailureReason != "" && len(s.Queue) == 0
	})

	if !s.CanRetry {
		t.Fatal("canRetry is false")
	}
	var answer struct{ Order dashboard.Order }
	op.must(http.MethodPost, "/operator/api/orders/"+order.ID+"/retry", http.StatusOK, &answer)
	if answer.Order.Status != "queued" || answer.Order.Attempts != 0 {
		t.Fatalf("retried order %+v", answer.Order)
	}
	agenttest.Eventually(t, 20*time.Second, "the order is sent again", func() bool {
		return len(k.Sim.Orders(t, testCode)) == 2
	})
	if got := c.Get(t, order.ID); got.Status == "failed" {
		t.Errorf("the customer still sees the order failed")
	}
	resp := op.do(http.MethodPost, "/operator/api/orders/"+order.ID+"/retry")
	if code := errorCode(t, resp); resp.StatusCode != http.StatusConflict || code != "not_failed" {
		t.Errorf("retrying an order that has not failed: %s %s", resp.Status, code)
	}
}

func TestCleanNozzlesReachesThePrinterAndShowsItsAnswer(t *testing.T) {
	k := startKiosk(t, kioskOptions{})
	op := k.operator(t)
	op.waitState("MQTT is up", func(s dashboard.State) bool { return s.Machine.MQTTConnected })
	live := k.openStream(t)

	var answer struct{ Nozzle dashboard.Nozzle }
	op.must(http.MethodPost, "/operator/api/nozzle/clean", http.StatusAccepted, &answer)
	if answer.Nozzle.RequestedAt == nil {
		t.Fatalf("clean answered %+v", answer)
	}
	s := live.until(t, "the printer's answer", func(s dashboard.State) bool { return s.Nozzle.State == "done" })
	if s.Nozzle.AnsweredAt == nil || s.Nozzle.AnsweredAt.Before(*answer.Nozzle.RequestedAt) {
		t.Errorf("nozzle %+v", s.Nozzle)
	}
	// The answer is in the event log: a dashboard started later shows it too.
	d2, err := dashboard.New(dashboard.Options{PIN: testPIN, MachineCode: testCode, Queue: k.Q, Machine: k.Disp, Printer: k.Link})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d2.Run(ctx) }()
	agenttest.Eventually(t, 10*time.Second, "a dashboard started later shows the answer", func() bool {
		return d2.State().Nozzle.State == "done"
	})
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

func TestTheQRCodeDecodesToTheKiosksEditorLink(t *testing.T) {
	k := startKiosk(t, kioskOptions{RelayURL: "https://relay.example.com"})
	op := k.operator(t)
	get := func(path string) ([]byte, string) {
		t.Helper()
		resp := op.do(http.MethodGet, path)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
		}
		return b, resp.Header.Get("Content-Type")
	}
	want := "https://relay.example.com/editor?machine=" + testCode + "&location=test-lab"
	b, ct := get("/operator/api/qr.png")
	if ct != "image/png" || qrtest.DecodePNG(t, b) != want {
		t.Fatalf("QR PNG (%s) does not decode to %s", ct, want)
	}
	if s := op.state(); s.QR.URL != want || !s.Tunnel.Configured || s.Tunnel.Reported {
		t.Fatalf("state QR %+v, tunnel %+v", s.QR, s.Tunnel)
	}
	svg, ct := get("/operator/api/qr.svg")
	if ct != "image/svg+xml" || !bytes.HasPrefix(svg, []byte("<svg")) {
		t.Fatalf("QR SVG: %s %.80s", ct, svg)
	}

	// The relay announces its public URL: the code follows it.
	since := time.Now().Add(-time.Minute)
	k.Dash.SetTunnel(tunnel.State{Connected: true, PublicURL: "https://cases.example.com", Since: since})
	want = "https://cases.example.com/editor?machine=" + testCode + "&location=test-lab"
	b, _ = get("/operator/api/qr.png?scale=4")
	if got := qrtest.DecodePNG(t, b); got != want {
		t.Fatalf("QR after the relay's announcement: %q, want %q", got, want)
	}
	s := op.state()
	if !s.Tunnel.Connected || s.Tunnel.Since == nil || !s.Tunnel.Since.Equal(since.UTC()) || s.Tunnel.PublicURL != "https://cases.example.com" {
		t.Errorf("tunnel %+v", s.Tunnel)
	}

	// And the machine's own screen can show it.
	var shown struct{ URL string }
	op.must(http.MethodPost, "/operator/api/qr/show", http.StatusOK, &shown)
	var st struct {
		Machines []struct {
			Code   string `json:"code"`
			QRCode string `json:"qrcode"`
		} `json:"machines"`
	}
	k.Sim.Admin(t, http.MethodGet, "/admin/state", nil, &st)
	found := false
	for _, m := range st.Machines {
		found = found || (m.Code == testCode && m.QRCode == want)
	}
	if shown.URL != want || !found {
		t.Errorf("machine screen: answered %q; simulator state %+v", shown.URL, st)
	}
}

func TestTunnelTroubleIsShown(t *testing.T) {
	k := startKiosk(t, kioskOptions{RelayURL: "https://relay.example.com"})
	op := k.operator(t)
	k.Dash.SetTunnel(tunnel.State{Connected: false, Rejected: true, Err: &tunnel.RefusedError{Code: "token_revoked", Message: "token revoked"}, Since: time.Now()})
	s := op.state()
	if s.Tunnel.Connected || !s.Tunnel.Rejected || !strings.Contains(s.Tunnel.Error, "revoked") {
		t.Errorf("tunnel %+v", s.Tunnel)
	}
}

func TestTheLiveStreamFollowsTheQueueAndEndsWithTheAgent(t *testing.T) {
	k := startKiosk(t, kioskOptions{})
	op := k.operator(t)
	op.must(http.MethodPost, "/operator/api/pause", http.StatusOK, nil)
	live := k.openStream(t)
	first := live.until(t, "the first state", func(dashboard.State) bool { return true })
	if !first.Machine.Paused || len(first.Queue) != 0 {
		t.Fatalf("first state: paused %v, queue %+v", first.Machine.Paused, first.Queue)
	}
	c := k.customer(t)
	order := k.order(t, c)
	live.until(t, "the new order", func(s dashboard.State) bool { return len(s.Queue) == 1 && s.Queue[0].ID == order.ID })
	op.must(http.MethodPost, "/operator/api/resume", http.StatusOK, nil)
	live.until(t, "the order finishing", func(s dashboard.State) bool { return !s.Machine.Paused && len(s.Queue) == 0 })

	done := make(chan error, 1)
	go func() {
		for {
			if _, err := live.next(); err != nil {
				done <- err
				return
			}
		}
	}()
	k.stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the live stream did not end when the agent stopped")
	}
}

func TestMetricsOnTheAgent(t *testing.T) {
	k := startKiosk(t, kioskOptions{})
	op := k.operator(t)
	op.must(http.MethodPost, "/operator/api/pause", http.StatusOK, nil)
	c := k.customer(t)
	k.order(t, c)

	resp, err := http.Get(k.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text := body(t, resp)
	for _, want := range []string{
		"casefleet_agent_queue_length 1",
		`casefleet_agent_orders{stage="queued"} 1`,
		"casefleet_agent_queue_paused 1",
		"casefleet_agent_mqtt_up 1",
		`casefleet_agent_http_request_duration_seconds_count{code="201",route="POST /api/chitu/machine/{code}/session"} 1`,
		`casefleet_agent_http_request_duration_seconds_count{code="200",route="POST /operator/api/pause"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(text, "/operator/api/events") {
		t.Error("a stream was timed")
	}
}
