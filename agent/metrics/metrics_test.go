package metrics

import (
	"context"
	"errors"
	"testing"
	"time"

	"casefleet/agent/queue"
	"casefleet/shared/testenv/promtest"
	"casefleet/shared/tunnel"
)

func TestQueueLengthAndOrdersByStage(t *testing.T) {
	q := openQueue(t)
	m := New(Options{MachineCode: "CT0700026", Version: "1.2.3", Queue: q, Machine: onlineMachine()})

	fams := scrape(t, m.Handler())
	mustValue(t, fams, "casefleet_agent_queue_length", nil, 0)
	mustValue(t, fams, "casefleet_agent_info", map[string]string{"machine": "CT0700026", "version": "1.2.3"}, 1)

	first := enqueue(t, q)
	enqueue(t, q)
	if _, err := q.Update(first.ID, func(o *queue.Order) error { o.Stage = queue.StageAwaitingPayment; return nil }); err != nil {
		t.Fatal(err)
	}
	fams = scrape(t, m.Handler())
	mustValue(t, fams, "casefleet_agent_queue_length", nil, 2)
	mustValue(t, fams, "casefleet_agent_orders", map[string]string{"stage": "queued"}, 1)
	mustValue(t, fams, "casefleet_agent_orders", map[string]string{"stage": "awaiting_payment"}, 1)
	mustValue(t, fams, "casefleet_agent_orders", map[string]string{"stage": "printing"}, 0)
}

func TestQueueFullWhenTheLineReachesItsCap(t *testing.T) {
	q := openQueue(t) // the default cap: 20 orders
	m := New(Options{Queue: q})
	for range 19 {
		enqueue(t, q)
	}
	mustValue(t, scrape(t, m.Handler()), "casefleet_agent_queue_full", nil, 0)

	enqueue(t, q)
	mustValue(t, scrape(t, m.Handler()), "casefleet_agent_queue_full", nil, 1)
}

func TestMachineGauges(t *testing.T) {
	mc := onlineMachine()
	mc.status.Paused = true
	m := New(Options{Queue: openQueue(t), Machine: mc})
	fams := scrape(t, m.Handler())
	mustValue(t, fams, "casefleet_agent_mqtt_up", nil, 1)
	mustValue(t, fams, "casefleet_agent_queue_paused", nil, 1)
	mustValue(t, fams, "casefleet_agent_printer_status", map[string]string{"status": "online"}, 1)
	mustValue(t, fams, "casefleet_agent_printer_status", map[string]string{"status": "offline"}, 0)
	mustValue(t, fams, "casefleet_agent_ink_low", map[string]string{"colour": "magenta"}, 1)
	mustValue(t, fams, "casefleet_agent_ink_low", map[string]string{"colour": "cyan"}, 0)
	if _, ok := promtest.Value(fams, "casefleet_agent_ink_low", map[string]string{"colour": "black"}); ok {
		t.Error("an unknown ink level is exported; want it absent")
	}
	mustValue(t, fams, "casefleet_agent_order_failures_total", map[string]string{"reason": ReasonPaymentTimeout}, 0)
	if fams["go_goroutines"] == nil || fams["process_start_time_seconds"] == nil {
		t.Error("runtime and process metrics missing")
	}
}

func TestAnUnreadableMachineLeavesTheRestServed(t *testing.T) {
	q := openQueue(t)
	enqueue(t, q)
	m := New(Options{Queue: q, Machine: &machine{err: errors.New("store closed")}})
	fams := scrape(t, m.Handler())
	mustValue(t, fams, "casefleet_agent_queue_length", nil, 1)
	if fams["casefleet_agent_mqtt_up"] != nil {
		t.Error("mqtt_up exported although the machine could not be read")
	}
}

// runFollower runs m.Run until the test ends.
func runFollower(t *testing.T, m *Metrics) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestFinishedOrdersAreCountedFromTheEventLog(t *testing.T) {
	q := openQueue(t)
	before := enqueue(t, q)
	if _, err := q.Update(before.ID, func(o *queue.Order) error {
		o.Status, o.Stage, o.FailureReason = queue.StatusFailed, queue.StageFailed, "The printer went offline before your case was printed."
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	m := New(Options{Queue: q, Machine: onlineMachine()})
	runFollower(t, m)
	fail := func(id, reason string) {
		t.Helper()
		if _, err := q.Update(id, func(o *queue.Order) error {
			o.Status, o.Stage, o.FailureReason = queue.StatusFailed, queue.StageFailed, reason
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	fail(enqueue(t, q).ID, "It was not paid at the kiosk within 5 minutes, so the order was released for the next customer.")

	printed := enqueue(t, q)
	start := time.Now().UTC().Add(-5 * time.Minute)
	if _, err := q.Update(printed.ID, func(o *queue.Order) error {
		o.Status, o.Stage, o.StartedAt = queue.StatusPrinting, queue.StagePrinting, &start
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Update(printed.ID, func(o *queue.Order) error {
		end := start.Add(4 * time.Minute)
		o.Status, o.Stage, o.CompletedAt = queue.StatusComplete, queue.StageComplete, &end
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fail(enqueue(t, q).ID, "Something nobody planned for.")

	eventually(t, "the completion and the failures are counted", func() bool {
		fams := scrape(t, m.Handler())
		c, _ := promtest.Value(fams, "casefleet_agent_orders_finished_total", map[string]string{"status": "complete"})
		o, _ := promtest.Value(fams, "casefleet_agent_order_failures_total", map[string]string{"reason": ReasonOther})
		return c == 1 && o == 1
	})
	fams := scrape(t, m.Handler())
	mustValue(t, fams, "casefleet_agent_order_failures_total", map[string]string{"reason": ReasonPaymentTimeout}, 1)
	// The failure from before the agent started is not counted again.
	mustValue(t, fams, "casefleet_agent_order_failures_total", map[string]string{"reason": ReasonMachineOffline}, 0)
	mustValue(t, fams, "casefleet_agent_orders_finished_total", map[string]string{"status": "failed"}, 2)
	h := fams["casefleet_agent_print_duration_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 1 || h.GetSampleSum() != 240 {
		t.Errorf("print duration: %d samples, sum %v; want 1 of 240s", h.GetSampleCount(), h.GetSampleSum())
	}
}

func TestTunnelUpAndReconnects(t *testing.T) {
	m := New(Options{Queue: openQueue(t), Tunnel: true})
	fams := scrape(t, m.Handler())
	mustValue(t, fams, "casefleet_agent_tunnel_up", nil, 0)

	for _, up := range []bool{false, true, true, false, false, true, false, true} {
		m.SetTunnel(tunnel.State{Connected: up})
	}
	fams = scrape(t, m.Handler())
	mustValue(t, fams, "casefleet_agent_tunnel_up", nil, 1)
	mustValue(t, fams, "casefleet_agent_tunnel_reconnects_total", nil, 2)
}

func TestNoTunnelMetricsWithoutARelay(t *testing.T) {
	m := New(Options{Queue: openQueue(t)})
	m.SetTunnel(tunnel.State{Connected: true})
	fams := scrape(t, m.Handler())
	if fams["casefleet_agent_tunnel_up"] != nil || fams["casefleet_agent_tunnel_reconnects_total"] != nil {
		t.Error("tunnel metrics exported for an agent with no relay")
	}
}

func TestReasonCodes(t *testing.T) {
	tests := []struct{ reason, want string }{
		{"It was not paid at the kiosk within 5 minutes, so the order was released for the next customer. You can order again.", ReasonPaymentTimeout},
		{"The printer went offline before your case was printed. Please ask the staff for help.", ReasonMachineOffline},
		{"The printer could not be reached. Please ask the staff for help.", ReasonUnreachable},
		{"The printer refused the order: 设备忙.", ReasonRefused},
		{"The printer could not print your case. Your payment was refunded.", ReasonPrinterFailed},
		{"The printer stopped reporting on this order. Please ask the staff for help.", ReasonNoReport},
		{"", ReasonOther},
		{"the printer went offline", ReasonOther},
	}
	for _, tt := range tests {
		if got := Reason(tt.reason); got != tt.want {
			t.Errorf("Reason(%q) = %q, want %q", tt.reason, got, tt.want)
		}
	}
}
