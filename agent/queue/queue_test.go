package queue

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func TestEnqueueIsFIFO(t *testing.T) {
	q, _ := newQueue(t, Options{})
	var want []string
	for i := range 3 {
		o := mustEnqueue(t, q, "s1")
		if o.QueuePosition != i+1 {
			t.Errorf("order %d: position %d, want %d", i, o.QueuePosition, i+1)
		}
		if !ValidID(o.ID) || o.Status != StatusQueued || o.Stage != StageQueued || o.CreatedAt.IsZero() {
			t.Errorf("order %d not stored as a new queued order: %+v", i, o)
		}
		want = append(want, o.ID)
	}

	pending, err := q.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(pending); !slices.Equal(got, want) {
		t.Fatalf("Pending = %v, want %v", got, want)
	}
	head, ok, err := q.Head()
	if err != nil || !ok || head.ID != want[0] {
		t.Fatalf("Head = %s, %v, %v; want %s", head.ID, ok, err, want[0])
	}
	if _, ok, _ := q.Active(); ok {
		t.Fatal("Active reports an order before any was handed to the machine")
	}

	// Handing the head to the machine makes it Active and the next one Head.
	mustUpdate(t, q, want[0], toStage(StageSending))
	active, ok, err := q.Active()
	if err != nil || !ok || active.ID != want[0] {
		t.Fatalf("Active = %s, %v, %v; want %s", active.ID, ok, err, want[0])
	}
	if active.QueuePosition != 0 || active.EstimatedWaitSeconds != 0 {
		t.Errorf("active order has position %d, estimate %d; want none", active.QueuePosition, active.EstimatedWaitSeconds)
	}
	head, _, _ = q.Head()
	if head.ID != want[1] || head.QueuePosition != 2 {
		t.Fatalf("Head = %s at %d, want %s at 2", head.ID, head.QueuePosition, want[1])
	}

	// Finishing it moves everyone up.
	mustUpdate(t, q, want[0], toStage(StageComplete))
	if o := mustGet(t, q, want[2]); o.QueuePosition != 2 {
		t.Errorf("last order at position %d after the first finished, want 2", o.QueuePosition)
	}
	mustVerify(t, q)
}

func TestEnqueueCapUnderConcurrency(t *testing.T) {
	q, _ := newQueue(t, Options{})
	const callers = 100
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		positions []int
		full      int
	)
	start := make(chan struct{})
	for range callers {
		wg.Go(func() {
			<-start
			o, err := q.Enqueue(Order{SessionID: "s"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrQueueFull):
				full++
			case err != nil:
				t.Errorf("enqueue: %v", err)
			default:
				positions = append(positions, o.QueuePosition)
			}
		})
	}
	close(start)
	wg.Wait()

	slices.Sort(positions)
	want := make([]int, 20)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(positions, want) {
		t.Errorf("accepted positions %v, want 1..20 once each", positions)
	}
	if full != callers-20 {
		t.Errorf("%d refused with ErrQueueFull, want %d", full, callers-20)
	}
	mustVerify(t, q)
}

func TestCapCountsOnlyUnfinishedOrders(t *testing.T) {
	q, _ := newQueue(t, Options{MaxOrders: 2})
	a := mustEnqueue(t, q, "s")
	mustEnqueue(t, q, "s")
	if _, err := q.Enqueue(Order{SessionID: "s"}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third order: err = %v, want ErrQueueFull", err)
	}
	if _, err := q.Cancel(a.ID, "s"); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(Order{SessionID: "s"}); err != nil {
		t.Fatalf("after a cancel there is room again: %v", err)
	}
}

func TestRetriedOrderIsHeadAgain(t *testing.T) {
	q, _ := newQueue(t, Options{})
	first := mustEnqueue(t, q, "s1")
	second := mustEnqueue(t, q, "s2")

	mustUpdate(t, q, first.ID, func(o *Order) {
		toStage(StageSent)(o)
		o.Attempts++
		o.VendorOrderID = "V-1"
	})
	// The machine refused it; the dispatcher puts it back in line.
	retried := mustUpdate(t, q, first.ID, func(o *Order) {
		toStage(StageQueued)(o)
		o.VendorOrderID = ""
	})
	if retried.Seq != first.Seq || retried.QueuePosition != 1 {
		t.Errorf("retried order: seq %d position %d, want seq %d position 1", retried.Seq, retried.QueuePosition, first.Seq)
	}
	head, _, err := q.Head()
	if err != nil || head.ID != first.ID {
		t.Fatalf("Head = %s (%v), want the retried %s", head.ID, err, first.ID)
	}
	if o := mustGet(t, q, second.ID); o.QueuePosition != 2 {
		t.Errorf("second order at position %d, want 2", o.QueuePosition)
	}
	if _, found, _ := q.FindByVendorID("V-1"); found {
		t.Error("the abandoned vendor order id still finds the order")
	}
	mustVerify(t, q)
}

func TestCancel(t *testing.T) {
	q, _ := newQueue(t, Options{})
	sent := mustEnqueue(t, q, "owner")
	mustUpdate(t, q, sent.ID, toStage(StageSent))
	done := mustEnqueue(t, q, "owner")
	mustUpdate(t, q, done.ID, toStage(StageFailed))
	waiting := mustEnqueue(t, q, "owner")

	tests := []struct {
		name, id, session string
		want              error
	}{
		{"unknown order", NewID(), "owner", ErrNotFound},
		{"another session", waiting.ID, "intruder", ErrNotOwner},
		{"no session", waiting.ID, "", ErrNotOwner},
		{"another session, finished order", done.ID, "intruder", ErrNotOwner},
		{"handed to the machine", sent.ID, "owner", ErrNotCancellable},
		{"already finished", done.ID, "owner", ErrNotCancellable},
		{"waiting, by its owner", waiting.ID, "owner", nil},
		{"twice", waiting.ID, "owner", ErrNotCancellable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := q.Cancel(tt.id, tt.session)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Cancel: err = %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			if o.Status != StatusCancelled || o.Stage != StageCancelled || o.CompletedAt == nil {
				t.Errorf("cancelled order = %+v", o)
			}
		})
	}
	recent, err := q.Recent(10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(recent), []string{waiting.ID, done.ID}; !slices.Equal(got, want) {
		t.Errorf("Recent = %v, want newest first %v", got, want)
	}
	mustVerify(t, q)
}

func TestUpdateFailingFnWritesNothing(t *testing.T) {
	q, _ := newQueue(t, Options{})
	o := mustEnqueue(t, q, "s")
	before := lastEventID(t, q)
	wake, cancel := q.Subscribe()
	defer cancel()

	boom := errors.New("vendor refused")
	_, err := q.Update(o.ID, func(o *Order) error {
		toStage(StageFailed)(o)
		o.VendorOrderID = "V-9"
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: err = %v, want the fn's error", err)
	}
	if got := mustGet(t, q, o.ID); got.Status != StatusQueued || got.VendorOrderID != "" {
		t.Errorf("order changed by an aborted update: %+v", got)
	}
	if after := lastEventID(t, q); after != before {
		t.Errorf("aborted update appended events %d..%d", before+1, after)
	}
	select {
	case <-wake:
		t.Error("subscribers woken by an aborted update")
	default:
	}
	mustVerify(t, q)
}

func TestUpdateRules(t *testing.T) {
	q, _ := newQueue(t, Options{})
	o := mustEnqueue(t, q, "s")
	other := mustEnqueue(t, q, "s")
	mustUpdate(t, q, other.ID, func(o *Order) { o.VendorOrderID = "V-other"; o.PrintFile = "tok-other" })

	tests := []struct {
		name   string
		change func(*Order)
		want   error
	}{
		{"id", func(o *Order) { o.ID = NewID() }, ErrInvalid},
		{"seq", func(o *Order) { o.Seq++ }, ErrInvalid},
		{"session", func(o *Order) { o.SessionID = "thief" }, ErrInvalid},
		{"created", func(o *Order) { o.CreatedAt = o.CreatedAt.Add(time.Hour) }, ErrInvalid},
		{"unknown status", func(o *Order) { o.Status = "lost" }, ErrInvalid},
		{"unknown stage", func(o *Order) { o.Stage = "teleporting" }, ErrInvalid},
		{"terminal status, live stage", func(o *Order) { o.Status = StatusComplete }, ErrInvalid},
		{"live status, terminal stage", func(o *Order) { o.Stage = StageComplete }, ErrInvalid},
		{"oversized field", func(o *Order) { o.FailureReason = strings.Repeat("x", maxField+1) }, ErrInvalid},
		{"vendor id of another order", func(o *Order) { o.VendorOrderID = "V-other" }, ErrDuplicate},
		{"print file of another order", func(o *Order) { o.PrintFile = "tok-other" }, ErrDuplicate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := lastEventID(t, q)
			_, err := q.Update(o.ID, func(o *Order) error { tt.change(o); return nil })
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if lastEventID(t, q) != before {
				t.Error("a refused update appended an event")
			}
		})
	}
	mustVerify(t, q)

	t.Run("unchanged writes nothing", func(t *testing.T) {
		before := lastEventID(t, q)
		got, err := q.Update(o.ID, func(o *Order) error { o.Stage = StageQueued; return nil })
		if err != nil {
			t.Fatal(err)
		}
		if lastEventID(t, q) != before {
			t.Error("a no-op update appended an event")
		}
		if got.ID != o.ID || got.QueuePosition != 1 {
			t.Errorf("no-op update returned %+v", got)
		}
	})
	t.Run("finishing sets CompletedAt, then the order is fixed", func(t *testing.T) {
		done := mustUpdate(t, q, o.ID, toStage(StageComplete))
		if done.CompletedAt == nil {
			t.Error("CompletedAt not set on completion")
		}
		if _, err := q.Update(o.ID, toStageErr(StageQueued)); !errors.Is(err, ErrFinished) {
			t.Errorf("updating a finished order: err = %v, want ErrFinished", err)
		}
	})
	t.Run("unknown order", func(t *testing.T) {
		if _, err := q.Update(NewID(), toStageErr(StageSent)); !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
	mustVerify(t, q)
}

func toStageErr(stage Stage) func(*Order) error {
	return func(o *Order) error { toStage(stage)(o); return nil }
}

func TestEnqueueRejectsHostileOrders(t *testing.T) {
	q, _ := newQueue(t, Options{})
	taken := mustEnqueue(t, q, "s")
	tests := []struct {
		name  string
		order Order
		want  error
	}{
		{"malformed id", Order{ID: "../../etc/passwd"}, ErrInvalid},
		{"lower-case id", Order{ID: strings.ToLower(NewID())}, ErrInvalid},
		{"id in use", Order{ID: taken.ID}, ErrDuplicate},
		{"NUL in session", Order{SessionID: "a\x00b"}, ErrInvalid},
		{"oversized image url", Order{ImageURL: strings.Repeat("u", maxField+1)}, ErrInvalid},
		{"oversized vendor id", Order{VendorOrderID: strings.Repeat("v", 40000)}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := q.Enqueue(tt.order); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	for _, id := range []string{"", "x", strings.Repeat("A", 100000), "\x00"} {
		if _, err := q.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%.20q): err = %v, want ErrNotFound", id, err)
		}
	}
	mustVerify(t, q)
}

func TestLookups(t *testing.T) {
	q, _ := newQueue(t, Options{})
	a := mustEnqueue(t, q, "alice")
	b := mustEnqueue(t, q, "bob")
	c := mustEnqueue(t, q, "alice")
	mustUpdate(t, q, a.ID, func(o *Order) { o.VendorOrderID = "V-A"; o.PrintFile = "file-a" })

	t.Run("by session, oldest first", func(t *testing.T) {
		got, err := q.BySession("alice")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), []string{a.ID, c.ID}) || got[1].QueuePosition != 3 {
			t.Errorf("BySession(alice) = %+v", got)
		}
		if got, _ := q.BySession("bob"); !slices.Equal(ids(got), []string{b.ID}) {
			t.Errorf("BySession(bob) = %v, want [%s]", ids(got), b.ID)
		}
		for _, s := range []string{"", "ali", "nobody"} {
			if got, _ := q.BySession(s); len(got) != 0 {
				t.Errorf("BySession(%q) = %v, want none", s, ids(got))
			}
		}
	})
	t.Run("by vendor id and print file", func(t *testing.T) {
		if o, ok, err := q.FindByVendorID("V-A"); err != nil || !ok || o.ID != a.ID {
			t.Errorf("FindByVendorID = %s, %v, %v", o.ID, ok, err)
		}
		if o, ok, err := q.FindByPrintFile("file-a"); err != nil || !ok || o.ID != a.ID {
			t.Errorf("FindByPrintFile = %s, %v, %v", o.ID, ok, err)
		}
		for _, key := range []string{"", "V-B", strings.Repeat("k", 50000)} {
			if _, ok, err := q.FindByVendorID(key); ok || err != nil {
				t.Errorf("FindByVendorID(%.10q) = %v, %v; want not found", key, ok, err)
			}
		}
	})
	t.Run("a changed vendor id moves the index", func(t *testing.T) {
		mustUpdate(t, q, a.ID, func(o *Order) { o.VendorOrderID = "V-A2" })
		if _, ok, _ := q.FindByVendorID("V-A"); ok {
			t.Error("old vendor id still found")
		}
		if o, ok, _ := q.FindByVendorID("V-A2"); !ok || o.ID != a.ID {
			t.Error("new vendor id not found")
		}
	})
	mustVerify(t, q)
}

func TestReopenKeepsEverything(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "agent.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Open(db, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	done := mustEnqueue(t, q, "s")
	mustUpdate(t, q, done.ID, func(o *Order) { toStage(StageComplete)(o); o.VendorOrderID = "V-1" })
	active := mustEnqueue(t, q, "s")
	active = mustUpdate(t, q, active.ID, func(o *Order) { toStage(StageSent)(o); o.PrintFile = "tok" })
	waiting := mustEnqueue(t, q, "t")
	if err := q.RecordPrint(4 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := q.AppendEvent(EventMachineStatus, map[string]string{"status": "online"}); err != nil {
		t.Fatal(err)
	}
	wantEvents, _ := q.EventsAfter(0, 0)
	wantPending, _ := q.Pending()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	q2 := openQueue(t, path, Options{Now: clk.Now})
	mustVerify(t, q2)
	gotPending, err := q2.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if len(gotPending) != 2 || gotPending[0].ID != active.ID || gotPending[1].ID != waiting.ID ||
		gotPending[1].EstimatedWaitSeconds != wantPending[1].EstimatedWaitSeconds {
		t.Errorf("Pending after reopen = %+v, want %+v", gotPending, wantPending)
	}
	if o, ok, _ := q2.FindByVendorID("V-1"); !ok || o.ID != done.ID || o.Status != StatusComplete {
		t.Errorf("finished order after reopen: %+v", o)
	}
	if o, ok, _ := q2.FindByPrintFile("tok"); !ok || o.ID != active.ID {
		t.Errorf("print file index after reopen: %+v", o)
	}
	gotEvents, _ := q2.EventsAfter(0, 0)
	if len(gotEvents) != len(wantEvents) || gotEvents[len(gotEvents)-1].ID != wantEvents[len(wantEvents)-1].ID {
		t.Errorf("events after reopen: %d, want %d", len(gotEvents), len(wantEvents))
	}
	// Numbering continues where it stopped.
	next := mustEnqueue(t, q2, "u")
	if next.Seq <= waiting.Seq || next.QueuePosition != 3 {
		t.Errorf("order after reopen: seq %d position %d", next.Seq, next.QueuePosition)
	}
}

// A commit that fails on disk must leave neither the change nor its event:
// the queue is reopened on a file descriptor that cannot write, so bbolt
// runs the transaction and fails when it writes the pages.
func TestFailedCommitLeavesNoEvent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Open(db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := mustEnqueue(t, q, "s")
	before := lastEventID(t, q)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	readOnlyFD := func(name string, _ int, perm os.FileMode) (*os.File, error) {
		return os.OpenFile(name, os.O_RDONLY, perm)
	}
	broken, err := bbolt.Open(path, 0o600, &bbolt.Options{OpenFile: readOnlyFD})
	if err != nil {
		t.Fatal(err)
	}
	q, err = Open(broken, Options{})
	if err != nil {
		t.Fatalf("open on existing buckets must not write: %v", err)
	}
	wake, cancel := q.Subscribe()
	defer cancel()
	if _, err := q.Update(o.ID, toStageErr(StageSending)); err == nil {
		t.Fatal("Update succeeded on a file that cannot be written")
	}
	if _, err := q.Enqueue(Order{SessionID: "s"}); err == nil {
		t.Fatal("Enqueue succeeded on a file that cannot be written")
	}
	select {
	case <-wake:
		t.Error("subscribers woken by failed commits")
	default:
	}
	if err := broken.Close(); err != nil {
		t.Fatal(err)
	}

	q = openQueue(t, path, Options{})
	if got := mustGet(t, q, o.ID); got.Stage != StageQueued {
		t.Errorf("failed update persisted: stage %s", got.Stage)
	}
	if after := lastEventID(t, q); after != before {
		t.Errorf("failed commits left events %d..%d", before+1, after)
	}
	if p, _ := q.Pending(); len(p) != 1 {
		t.Errorf("failed enqueue persisted: %d pending", len(p))
	}
	mustVerify(t, q)
}

func TestVerifyFindsBrokenIndexes(t *testing.T) {
	tests := []struct {
		name   string
		damage func(tx *bbolt.Tx, o Order) error
	}{
		{"order missing from the line", func(tx *bbolt.Tx, o Order) error {
			return tx.Bucket(bucketPending).Delete(u64Key(o.Seq))
		}},
		{"line points at nothing", func(tx *bbolt.Tx, o Order) error {
			return tx.Bucket(bucketPending).Put(u64Key(999), []byte(NewID()))
		}},
		{"stale vendor entry", func(tx *bbolt.Tx, o Order) error {
			return tx.Bucket(bucketByVendor).Put([]byte("V-stale"), []byte(o.ID))
		}},
		{"missing session entry", func(tx *bbolt.Tx, o Order) error {
			return tx.Bucket(bucketBySession).Delete(sessionKey(o.SessionID, o.Seq))
		}},
		{"undecodable order", func(tx *bbolt.Tx, o Order) error {
			return tx.Bucket(bucketOrders).Put([]byte(o.ID), []byte("{not json"))
		}},
		{"finished order still in line", func(tx *bbolt.Tx, o Order) error {
			o.Status, o.Stage = StatusComplete, StageComplete
			b, _ := encodeOrder(o)
			return tx.Bucket(bucketOrders).Put([]byte(o.ID), b)
		}},
		{"malformed event key", func(tx *bbolt.Tx, o Order) error {
			return tx.Bucket(bucketEvents).Put([]byte("x"), []byte("{}"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agent.db")
			db := openDB(t, path)
			q, err := Open(db, Options{})
			if err != nil {
				t.Fatal(err)
			}
			o := mustEnqueue(t, q, "s")
			mustVerify(t, q)
			if err := db.Update(func(tx *bbolt.Tx) error { return tt.damage(tx, o) }); err != nil {
				t.Fatal(err)
			}
			if err := q.Verify(); err == nil {
				t.Error("Verify found nothing wrong")
			}
		})
	}
}
