package api

import (
	"slices"
	"testing"
	"time"

	"casefleet/agent/queue"
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
