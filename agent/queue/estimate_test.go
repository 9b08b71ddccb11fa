package queue

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func waits(t *testing.T, q *Queue) []int {
	t.Helper()
	p, err := q.Pending()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int, len(p))
	for i, o := range p {
		out[i] = o.EstimatedWaitSeconds
	}
	return out
}

func TestEstimatesWithoutMeasurements(t *testing.T) {
	clk := newClock()
	q, _ := newQueue(t, Options{Now: clk.Now})
	a := mustEnqueue(t, q, "s")
	mustEnqueue(t, q, "s")
	mustEnqueue(t, q, "s")

	// Default cycle: 1 min to pay + 6 min to print.
	const cycle = 7 * 60
	if got, want := waits(t, q), []int{0, cycle, 2 * cycle}; !slices.Equal(got, want) {
		t.Errorf("idle machine: waits %v, want %v", got, want)
	}

	// The head goes to the machine; 3 minutes later 4 remain.
	mustUpdate(t, q, a.ID, func(o *Order) {
		toStage(StageSent)(o)
		now := clk.Now()
		o.SentAt = &now
	})
	clk.Advance(3 * time.Minute)
	if got, want := waits(t, q), []int{0, 4 * 60, 4*60 + cycle}; !slices.Equal(got, want) {
		t.Errorf("busy machine: waits %v, want %v", got, want)
	}

	// A print running late never makes the estimate negative.
	clk.Advance(time.Hour)
	if got, want := waits(t, q), []int{0, 0, cycle}; !slices.Equal(got, want) {
		t.Errorf("overdue print: waits %v, want %v", got, want)
	}

	sum, err := q.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Pending != 3 || sum.Waiting != 2 || sum.Full || sum.Cycle != cycle*time.Second || sum.NextWait != 2*cycle*time.Second {
		t.Errorf("Summary = %+v", sum)
	}
}

func TestEstimatesUseMedians(t *testing.T) {
	clk := newClock()
	q, _ := newQueue(t, Options{Now: clk.Now})
	// One stalled print must not drag the estimate: median of 3, 4, 5, 90 min
	// is 4.5 min; payments median 30 s. Older measurements fall out of the
	// window of 20.
	for range 25 {
		if err := q.RecordPrint(time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []time.Duration{3, 4, 5, 90, 3, 4, 5, 90, 3, 4, 5, 90, 3, 4, 5, 90, 3, 4, 5, 90} {
		if err := q.RecordPrint(d * time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []time.Duration{20, 30, 40} {
		if err := q.RecordPayWait(d * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	mustEnqueue(t, q, "s")
	mustEnqueue(t, q, "s")
	const cycle = 4*60 + 30 + 30
	if got, want := waits(t, q), []int{0, cycle}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	mustVerify(t, q)
}

func TestUpdateAndRecordMeasuresWithTheTransition(t *testing.T) {
	q, _ := newQueue(t, Options{})
	o := mustEnqueue(t, q, "s")
	mustEnqueue(t, q, "s")
	_, err := q.UpdateAndRecord(o.ID, func(o *Order) (Measure, error) {
		toStage(StageComplete)(o)
		return Measure{Print: 2 * time.Minute, PayWait: 20 * time.Second}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := q.Summary()
	if sum.Cycle != 2*time.Minute+20*time.Second {
		t.Errorf("cycle %v after recording 2m print and 20s payment", sum.Cycle)
	}

	// A failing transition records nothing.
	next, _, _ := q.Head()
	_, err = q.UpdateAndRecord(next.ID, func(o *Order) (Measure, error) {
		return Measure{Print: time.Hour}, errors.New("no")
	})
	if err == nil {
		t.Fatal("UpdateAndRecord ignored the fn's error")
	}
	if sum2, _ := q.Summary(); sum2.Cycle != sum.Cycle {
		t.Errorf("aborted transition recorded: cycle %v -> %v", sum.Cycle, sum2.Cycle)
	}
	if _, err := q.UpdateAndRecord(next.ID, func(o *Order) (Measure, error) {
		return Measure{Print: -time.Second}, nil
	}); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative duration: err = %v, want ErrInvalid", err)
	}
}

func TestSummaryReportsFull(t *testing.T) {
	q, _ := newQueue(t, Options{MaxOrders: 1})
	mustEnqueue(t, q, "s")
	if sum, _ := q.Summary(); !sum.Full {
		t.Errorf("Summary of a full queue = %+v", sum)
	}
}

func TestEstimateWaitAgreesWithPositions(t *testing.T) {
	clk := newClock()
	q, _ := newQueue(t, Options{Now: clk.Now})
	for range 4 {
		mustEnqueue(t, q, "s")
	}
	head, _, _ := q.Head()
	mustUpdate(t, q, head.ID, func(o *Order) {
		toStage(StageSent)(o)
		now := clk.Now()
		o.SentAt = &now
	})
	clk.Advance(90 * time.Second)
	pending, err := q.Pending()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range pending[1:] {
		got, err := q.EstimateWait(o.QueuePosition)
		if err != nil {
			t.Fatal(err)
		}
		if int(got.Seconds()) != o.EstimatedWaitSeconds {
			t.Errorf("EstimateWait(%d) = %v, order there waits %ds", o.QueuePosition, got, o.EstimatedWaitSeconds)
		}
	}
	sum, _ := q.Summary()
	if next, _ := q.EstimateWait(len(pending) + 1); next != sum.NextWait {
		t.Errorf("EstimateWait for a newcomer %v, Summary.NextWait %v", next, sum.NextWait)
	}
	// Line reads both at once, and says the same.
	line, next, err := q.Line()
	if err != nil {
		t.Fatal(err)
	}
	if len(line) != len(pending) || next != sum.NextWait {
		t.Errorf("Line = %d orders, next wait %v; Pending has %d, Summary.NextWait %v", len(line), next, len(pending), sum.NextWait)
	}
	for i := range line {
		if line[i].ID != pending[i].ID || line[i].QueuePosition != pending[i].QueuePosition || line[i].EstimatedWaitSeconds != pending[i].EstimatedWaitSeconds {
			t.Errorf("Line[%d] = %+v, Pending[%d] = %+v", i, line[i], i, pending[i])
		}
	}
}
