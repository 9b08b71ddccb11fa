package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"casefleet/agent/dispatch"
	"casefleet/agent/queue"
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

// idleMachine is a dispatcher as far as the dashboard can tell.
type idleMachine struct{}

func (idleMachine) Status() (dispatch.Status, error) {
	return dispatch.Status{Status: dispatch.StateOnline}, nil
}
func (idleMachine) SetPaused(bool) {}
func (idleMachine) Kick()          {}

// countingPrinter counts the commands it is sent.
type countingPrinter struct{ cleans int }

func (p *countingPrinter) CleanNozzle(context.Context) error       { p.cleans++; return nil }
func (p *countingPrinter) SetQRCode(context.Context, string) error { return nil }

func openQueue(t *testing.T) *queue.Queue {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "q.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	q, err := queue.Open(db, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return q
}
