package queue

import (
	"errors"
	"testing"
	"time"
)

func TestRetryPutsAFailedOrderBackAtItsPlace(t *testing.T) {
	q, _ := newQueue(t, Options{MaxOrders: 3})
	first := mustEnqueue(t, q, "s1")
	second := mustEnqueue(t, q, "s2")
	if _, err := q.Retry(first.ID); !errors.Is(err, ErrNotRetryable) {
		t.Fatalf("retry a waiting order: %v, want ErrNotRetryable", err)
	}
	now := time.Now().UTC()
	mustUpdate(t, q, first.ID, func(o *Order) {
		o.Stage, o.Attempts, o.VendorOrderID, o.PickupCode, o.SentAt = StageSent, 3, "V0001", "0001", &now
	})
	mustUpdate(t, q, first.ID, func(o *Order) {
		o.Status, o.Stage, o.FailureReason = StatusFailed, StageFailed, "The printer went offline."
	})

	o, err := q.Retry(first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != StatusQueued || o.Stage != StageQueued || o.Attempts != 0 || o.VendorOrderID != "" ||
		o.PickupCode != "" || o.FailureReason != "" || o.SentAt != nil || o.CompletedAt != nil || o.QueuePosition != 1 {
		t.Fatalf("retried order %+v", o)
	}
	if head, _, _ := q.Head(); head.ID != first.ID {
		t.Fatalf("head is %s, want the retried order back at its place", head.ID)
	}
	if recent, _ := q.Recent(10); len(recent) != 0 {
		t.Fatalf("the finished log still names %+v", recent)
	}
	if _, found, _ := q.FindByVendorID("V0001"); found {
		t.Fatal("the old vendor order id still finds the order")
	}
	mustVerify(t, q)

	// Into a full line: refused.
	mustEnqueue(t, q, "s3")
	mustUpdate(t, q, second.ID, func(o *Order) { o.Status, o.Stage = StatusFailed, StageFailed })
	mustEnqueue(t, q, "s4")
	if _, err := q.Retry(second.ID); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("retry into a full line: %v, want ErrQueueFull", err)
	}
	// A completed or cancelled order is not retried.
	if _, err := q.Retry(first.ID); !errors.Is(err, ErrNotRetryable) {
		t.Fatalf("retry a queued order: %v", err)
	}
	mustVerify(t, q)
}
