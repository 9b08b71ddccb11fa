package api

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"casefleet/agent/dispatch"
	"casefleet/agent/ink"
	"casefleet/agent/queue"
	"casefleet/agent/queue/queuetest"
	"casefleet/shared/summary"
)

// The summary counts the orders that failed in the last 24 hours, with
// their reasons, most frequent first; older failures and other endings do
// not count.
func TestSummaryFailuresOfTheLastDay(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { at := now.Add(-d); return &at }
	recent := []queue.Order{ // newest first, as Queue.Recent returns them
		{Status: queue.StatusFailed, FailureReason: "The printer ran out of ink", CompletedAt: ago(time.Minute)},
		{Status: queue.StatusComplete, CompletedAt: ago(time.Hour)},
		{Status: queue.StatusFailed, FailureReason: "Not paid in time", CompletedAt: ago(2 * time.Hour)},
		{Status: queue.StatusFailed, FailureReason: "The printer ran out of ink", CompletedAt: ago(3 * time.Hour)},
		{Status: queue.StatusCancelled, CompletedAt: ago(4 * time.Hour)},
		{Status: queue.StatusFailed, UpdatedAt: now.Add(-5 * time.Hour)}, // no reason, no completion time
		{Status: queue.StatusFailed, FailureReason: "yesterday's", CompletedAt: ago(25 * time.Hour)},
	}
	n, reasons := failures(recent, now.Add(-summary.FailureWindow))
	want := []summary.Reason{{Reason: "The printer ran out of ink", Count: 2}, {Reason: "Not paid in time", Count: 1}, {Reason: "unknown", Count: 1}}
	if n != 4 || !slices.Equal(reasons, want) {
		t.Errorf("failures = %d %v, want 4 %v", n, reasons, want)
	}
	if n, reasons := failures(nil, now); n != 0 || reasons != nil {
		t.Errorf("no orders: %d %v", n, reasons)
	}
}

// fixedMachine is a dispatcher that always reports the same status.
type fixedMachine struct{ st dispatch.Status }

func (m fixedMachine) Status() (dispatch.Status, error) { return m.st, nil }
func (fixedMachine) Kick()                              {}

// The summary endpoint answers GET with a summary the relay's parser
// accepts (ink low named, the order at the printer, capacity and full),
// and refuses other methods.
func TestSummaryHandler(t *testing.T) {
	q, _ := queuetest.New(t)
	heard := time.Now().Add(-time.Second)
	srv := New(Options{MachineCode: "CT0700026", MaxOrders: 1, Queue: q, Machine: fixedMachine{dispatch.Status{
		Code: "CT0700026", Name: "Mall 3F", Location: "mall-3f", Status: "online", QueueLength: 1,
		InkLevels: ink.Levels{Cyan: ink.OK, Magenta: ink.Low, Yellow: ink.OK, Black: ink.Unknown}, LastContact: &heard,
	}}})
	h := srv.SummaryHandler("1.2.3")

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, summary.Path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
	s, err := summary.Parse(rec.Body.Bytes(), "CT0700026")
	if err != nil {
		t.Fatalf("the relay cannot read the summary: %v\n%s", err, rec.Body)
	}
	if s.Version != "1.2.3" || !s.Full || s.QueueCapacity != 1 || !slices.Equal(s.InkLow, []string{"magenta"}) || s.LastContact == nil || s.Current != nil || s.Failures != 0 {
		t.Errorf("summary %+v", s)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, summary.Path, strings.NewReader("{}")))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d", m, rec.Code)
		}
	}
}
