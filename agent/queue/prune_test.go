package queue

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// Finished orders older than the cutoff go, with their index entries;
// newer ones and everything unfinished stay, and the store stays
// consistent.
func TestPruneFinishedKeepsWhatIsStillNeeded(t *testing.T) {
	clk := newClock()
	q, _ := newQueue(t, Options{Now: clk.Now, MaxOrders: 100})
	finish := func(session string, stage Stage, vendorID, file string) Order {
		o := mustEnqueue(t, q, session)
		mustUpdate(t, q, o.ID, func(o *Order) { o.VendorOrderID, o.PrintFile = vendorID, file })
		return mustUpdate(t, q, o.ID, toStage(stage))
	}
	old := []Order{
		finish("s1", StageComplete, "V1", "F1"),
		finish("s1", StageFailed, "V2", "F2"),
		finish("s2", StageCancelled, "", "F3"),
	}
	clk.Advance(48 * time.Hour)
	cutoff := clk.Now()
	clk.Advance(time.Hour)
	recent := finish("s1", StageComplete, "V4", "F4")
	waiting := mustEnqueue(t, q, "s1")
	printing := mustUpdate(t, q, mustEnqueue(t, q, "s2").ID, toStage(StagePrinting))

	// A limit takes the oldest first.
	if n, err := q.PruneFinished(cutoff, 2); err != nil || n != 2 {
		t.Fatalf("PruneFinished(limit 2) = %d, %v", n, err)
	}
	if _, err := q.Get(old[2].ID); err != nil {
		t.Errorf("the third old order went before the first two: %v", err)
	}
	if n, err := q.PruneFinished(cutoff, 100); err != nil || n != 1 {
		t.Fatalf("PruneFinished = %d, %v, want the last old one", n, err)
	}
	if n, _ := q.PruneFinished(cutoff, 100); n != 0 {
		t.Errorf("a second prune removed %d more", n)
	}

	for _, o := range old {
		if _, err := q.Get(o.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("old order %s: %v, want not found", o.ID, err)
		}
	}
	if _, found, _ := q.FindByVendorID("V1"); found {
		t.Error("the vendor index still names a pruned order")
	}
	if _, found, _ := q.FindByPrintFile("F3"); found {
		t.Error("the print file index still names a pruned order")
	}
	for _, o := range []Order{recent, waiting, printing} {
		mustGet(t, q, o.ID)
	}
	if o, found, err := q.FindByVendorID("V4"); err != nil || !found || o.ID != recent.ID {
		t.Errorf("the recent order's vendor id finds %v %v %v", o.ID, found, err)
	}
	s1, err := q.BySession("s1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(s1), []string{recent.ID, waiting.ID}; !slices.Equal(sortedCopy(got), sortedCopy(want)) {
		t.Errorf("session s1 has %v, want %v", got, want)
	}
	mustVerify(t, q)
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
