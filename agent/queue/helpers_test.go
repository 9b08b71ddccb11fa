package queue

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"casefleet/shared/testenv"
)

// openDB opens (creating) the bbolt file at path and closes it when the
// test ends.
func openDB(tb testing.TB, path string) *bbolt.DB {
	tb.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil && !errors.Is(err, bbolt.ErrDatabaseNotOpen) {
			tb.Errorf("close db: %v", err)
		}
	})
	return db
}

// newQueue opens a queue in a fresh file and returns it with the file's
// path.
func newQueue(tb testing.TB, opt Options) (*Queue, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "agent.db")
	return openQueue(tb, path, opt), path
}

func openQueue(tb testing.TB, path string, opt Options) *Queue {
	tb.Helper()
	q, err := Open(openDB(tb, path), opt)
	if err != nil {
		tb.Fatalf("open queue: %v", err)
	}
	return q
}

// newClock is a clock the test moves, at a fixed start.
func newClock() *testenv.Clock {
	return testenv.NewClock(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
}

// mustEnqueue enqueues an order for session and fails the test on error.
func mustEnqueue(tb testing.TB, q *Queue, session string) Order {
	tb.Helper()
	o, err := q.Enqueue(Order{SessionID: session, MachineCode: "CT0700026", ProductID: "p1", ImageURL: "https://relay.example/f/x.tif"})
	if err != nil {
		tb.Fatalf("enqueue: %v", err)
	}
	return o
}

// mustUpdate applies fn to order id and fails the test on error.
func mustUpdate(tb testing.TB, q *Queue, id string, fn func(*Order)) Order {
	tb.Helper()
	o, err := q.Update(id, func(o *Order) error { fn(o); return nil })
	if err != nil {
		tb.Fatalf("update %s: %v", id, err)
	}
	return o
}

func mustGet(tb testing.TB, q *Queue, id string) Order {
	tb.Helper()
	o, err := q.Get(id)
	if err != nil {
		tb.Fatalf("get %s: %v", id, err)
	}
	return o
}

func mustVerify(tb testing.TB, q *Queue) {
	tb.Helper()
	if err := q.Verify(); err != nil {
		tb.Fatalf("store inconsistent: %v", err)
	}
}

func lastEventID(tb testing.TB, q *Queue) uint64 {
	tb.Helper()
	id, err := q.LastEventID()
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func ids(orders []Order) []string {
	out := make([]string, len(orders))
	for i, o := range orders {
		out[i] = o.ID
	}
	return out
}

// toStage is the change a dispatcher makes to move an order to stage.
func toStage(stage Stage) func(*Order) {
	return func(o *Order) {
		o.Stage = stage
		switch stage {
		case StageQueued:
			o.Status = StatusQueued
		case StagePrinting:
			o.Status = StatusPrinting
		case StageComplete:
			o.Status = StatusComplete
		case StageFailed:
			o.Status = StatusFailed
		case StageCancelled:
			o.Status = StatusCancelled
		}
	}
}
