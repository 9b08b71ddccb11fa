package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"casefleet/agent/chitu/protocol"
	"casefleet/agent/dispatch"
	"casefleet/agent/queue"
	"casefleet/agent/queue/queuetest"
)

func TestNozzleStates(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		n    nozzleState
		now  time.Time
		want string
	}{
		{"never", nozzleState{}, t0, ""},
		{"asked", nozzleState{requested: t0}, t0.Add(time.Minute), "cleaning"},
		{"no answer", nozzleState{requested: t0}, t0.Add(nozzleAnswerWithin + time.Second), "no_answer"},
		{"done", nozzleState{requested: t0, answered: t0.Add(time.Second), ok: true}, t0.Add(time.Hour), "done"},
		{"failed", nozzleState{requested: t0, answered: t0.Add(time.Second)}, t0.Add(time.Hour), "failed"},
		{"asked again after an answer", nozzleState{requested: t0.Add(time.Hour), answered: t0, ok: true}, t0.Add(time.Hour), "cleaning"},
		{"answer from elsewhere", nozzleState{answered: t0, ok: true}, t0, "done"},
	}
	for _, tt := range tests {
		if got := tt.n.view(tt.now).State; got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestASecondCleaningWaitsForThePrintersAnswer(t *testing.T) {
	p := &countingPrinter{}
	d, err := New(Options{PIN: testPIN, Queue: openQueue(t), Machine: idleMachine{}, Printer: p})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	clean := func() int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/operator/api/nozzle/clean", nil)
		req.Header.Set("Authorization", "Bearer "+testPIN)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := clean(); got != http.StatusAccepted {
		t.Fatalf("first cleaning: %d", got)
	}
	// No answer from the printer yet: a second press is refused.
	if got := clean(); got != http.StatusConflict || p.cleans != 1 {
		t.Errorf("second cleaning: %d with %d commands sent, want 409 and 1", got, p.cleans)
	}
}

// A quick printer answers the cleaning before the command's publish is
// acknowledged; the dashboard must still show the answer, not "cleaning".
func TestAnAnswerBeforeTheCommandReturnsCounts(t *testing.T) {
	q := openQueue(t)
	p := &answeringPrinter{q: q}
	d, err := New(Options{PIN: testPIN, Queue: q, Machine: idleMachine{}, Printer: p})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { d.Run(ctx); close(ran) }()
	t.Cleanup(func() { cancel(); <-ran }) // before the queue closes
	if err := d.cleanNozzle(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for d.State().Nozzle.State != "done" {
		if time.Now().After(deadline) {
			t.Fatalf("the printer answered during the call; the dashboard says %q, want done", d.State().Nozzle.State)
		}
		select {
		case <-d.changed.wait():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// A command that timed out may have reached the printer: it stays
// stamped, so a second press does not clean twice.
func TestACommandThatTimedOutStaysCleaning(t *testing.T) {
	d, err := New(Options{PIN: testPIN, Queue: openQueue(t), Machine: idleMachine{}, Printer: timingOutPrinter{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cleanNozzle(context.Background()); err == nil {
		t.Fatal("the command timed out, cleanNozzle did not say so")
	}
	if got := d.State().Nozzle.State; got != "cleaning" {
		t.Errorf("after a command that timed out the dashboard says %q, want cleaning", got)
	}
}

type timingOutPrinter struct{}

func (timingOutPrinter) CleanNozzle(context.Context) error {
	return fmt.Errorf("publish: %w", context.DeadlineExceeded)
}
func (timingOutPrinter) SetQRCode(context.Context, string) error { return nil }

// A command that could not be sent leaves no cleaning under way.
func TestACommandNotSentIsNotCleaning(t *testing.T) {
	d, err := New(Options{PIN: testPIN, Queue: openQueue(t), Machine: idleMachine{}, Printer: failingPrinter{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cleanNozzle(context.Background()); err == nil {
		t.Fatal("the printer refused the command, cleanNozzle did not say so")
	}
	if got := d.State().Nozzle.State; got != "" {
		t.Errorf("after a command that was not sent the dashboard says %q, want nothing", got)
	}
}

// answeringPrinter answers a cleaning (through the queue's log, as the
// dispatcher does) before the command returns.
type answeringPrinter struct{ q *queue.Queue }

func (p *answeringPrinter) CleanNozzle(context.Context) error {
	_, err := p.q.AppendEvent(queue.EventNozzleClean, protocol.CleanNozzleResult{MsgType: protocol.MsgCleanNozzle, Result: true})
	return err
}
func (p *answeringPrinter) SetQRCode(context.Context, string) error { return nil }

type failingPrinter struct{}

func (failingPrinter) CleanNozzle(context.Context) error       { return errors.New("mqtt: not connected") }
func (failingPrinter) SetQRCode(context.Context, string) error { return nil }

// idleMachine is a dispatcher as far as the dashboard can tell.
type idleMachine struct{}

func (idleMachine) Status() (dispatch.Status, error) {
	return dispatch.Status{Status: dispatch.StateOnline}, nil
}
func (idleMachine) SetPaused(bool) error { return nil }
func (idleMachine) Kick()                {}

// countingPrinter counts the commands it is sent.
type countingPrinter struct{ cleans int }

func (p *countingPrinter) CleanNozzle(context.Context) error       { p.cleans++; return nil }
func (p *countingPrinter) SetQRCode(context.Context, string) error { return nil }

func openQueue(t testing.TB) *queue.Queue {
	t.Helper()
	q, _ := queuetest.New(t)
	return q
}
