package queue

import "testing"

func TestPausedIsStoredWithTheOrders(t *testing.T) {
	q, path := newQueue(t, Options{})
	if paused, err := q.Paused(); err != nil || paused {
		t.Fatalf("a new queue: paused=%v (%v), want not paused", paused, err)
	}
	if err := q.SetPaused(true); err != nil {
		t.Fatal(err)
	}
	q.db.Close()

	q = openQueue(t, path, Options{})
	if paused, err := q.Paused(); err != nil || !paused {
		t.Fatalf("reopened: paused=%v (%v), want paused", paused, err)
	}
	if err := q.SetPaused(false); err != nil {
		t.Fatal(err)
	}
	if paused, _ := q.Paused(); paused {
		t.Fatal("resumed, still paused")
	}
	if err := q.Verify(); err != nil {
		t.Fatal(err)
	}
}
