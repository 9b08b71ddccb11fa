package queue

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func keyed(session, key, hash string) Order {
	return Order{
		SessionID: session, MachineCode: "CT0700026", ProductID: "p1",
		IdempotencyKey: key, RequestHash: hash,
	}
}

// An order made with a key is made once per session: the same key finds
// it (also after a restart and when the line has filled since), another
// session's same key is another order.
func TestAnIdempotencyKeyMakesOneOrderPerSession(t *testing.T) {
	q, path := newQueue(t, Options{MaxOrders: 2})
	first, created, err := q.EnqueueOnce(keyed("s1", "k1", "h1"))
	if err != nil || !created {
		t.Fatalf("first EnqueueOnce = created %v, %v", created, err)
	}
	again, created, err := q.EnqueueOnce(keyed("s1", "k1", "h2"))
	if err != nil || created {
		t.Fatalf("retry EnqueueOnce = created %v, %v; want the existing order", created, err)
	}
	if again.ID != first.ID || again.RequestHash != "h1" || again.QueuePosition != 1 {
		t.Fatalf("retry found %s (hash %s, position %d), want %s with hash h1 at position 1", again.ID, again.RequestHash, again.QueuePosition, first.ID)
	}
	other, created, err := q.EnqueueOnce(keyed("s2", "k1", "h1"))
	if err != nil || !created || other.ID == first.ID {
		t.Fatalf("another session's key k1 = %s, created %v, %v; want a new order", other.ID, created, err)
	}
	// The line is full now, yet the retry still finds its order.
	if _, err := q.Enqueue(keyed("s3", "", "")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third order: %v, want ErrQueueFull", err)
	}
	if again, _, err := q.EnqueueOnce(keyed("s1", "k1", "h1")); err != nil || again.ID != first.ID {
		t.Fatalf("retry with a full line = %s, %v; want %s", again.ID, err, first.ID)
	}

	// After a restart.
	if err := q.db.Close(); err != nil {
		t.Fatal(err)
	}
	q = openQueue(t, path, Options{MaxOrders: 2})
	if o, found, err := q.FindByIdempotencyKey("s1", "k1"); err != nil || !found || o.ID != first.ID {
		t.Fatalf("FindByIdempotencyKey after a restart = %s, %v, %v", o.ID, found, err)
	}
	if _, found, _ := q.FindByIdempotencyKey("s1", "k2"); found {
		t.Error("an unused key found an order")
	}
	if err := q.Verify(); err != nil {
		t.Fatal(err)
	}
}

// Many requests with one key at once make exactly one order.
func TestConcurrentRetriesMakeOneOrder(t *testing.T) {
	q, _ := newQueue(t, Options{MaxOrders: 20})
	var wg sync.WaitGroup
	ids := make([]string, 16)
	made := make([]bool, 16)
	for i := range ids {
		wg.Go(func() {
			o, created, err := q.EnqueueOnce(keyed("s1", "same", "h"))
			if err != nil {
				t.Errorf("EnqueueOnce: %v", err)
			}
			ids[i], made[i] = o.ID, created
		})
	}
	wg.Wait()
	n := 0
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("orders %s and %s for one key", ids[0], ids[i])
		}
		if made[i] {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d calls say they made the order, want 1", n)
	}
	if pending, _ := q.Pending(); len(pending) != 1 {
		t.Fatalf("%d orders in line, want 1", len(pending))
	}
}

func TestAKeyNeedsASessionAndNeverChanges(t *testing.T) {
	q, _ := newQueue(t, Options{})
	if _, _, err := q.EnqueueOnce(keyed("", "k", "h")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a key without a session: %v, want ErrInvalid", err)
	}
	o, _, err := q.EnqueueOnce(keyed("s1", "k", "h"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Update(o.ID, func(o *Order) error { o.IdempotencyKey = "other"; return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("changing the key: %v, want ErrInvalid", err)
	}
}

// A finished order's key answers retries for at least KeyLifetime, even
// when keep_finished is shorter; then it goes with its order.
func TestKeysAreKeptADayThenPruned(t *testing.T) {
	clk := newClock()
	q, _ := newQueue(t, Options{Now: clk.Now})
	withKey, _, err := q.EnqueueOnce(keyed("s1", "k1", "h"))
	if err != nil {
		t.Fatal(err)
	}
	without := mustEnqueue(t, q, "s2")
	mustUpdate(t, q, withKey.ID, toStage(StageComplete))
	mustUpdate(t, q, without.ID, toStage(StageComplete))

	clk.Advance(time.Hour)
	if n, err := q.PruneFinished(clk.Now(), 100); err != nil || n != 1 {
		t.Fatalf("PruneFinished an hour later = %d, %v; want only the order without a key", n, err)
	}
	if o, found, _ := q.FindByIdempotencyKey("s1", "k1"); !found || o.ID != withKey.ID {
		t.Fatal("the key was pruned within its day")
	}

	clk.Advance(KeyLifetime)
	if n, err := q.PruneFinished(clk.Now(), 100); err != nil || n != 1 {
		t.Fatalf("PruneFinished a day later = %d, %v; want the keyed order", n, err)
	}
	if _, found, _ := q.FindByIdempotencyKey("s1", "k1"); found {
		t.Error("the index still names a pruned order")
	}
	if err := q.Verify(); err != nil {
		t.Fatal(err)
	}
}
