package queue

import (
	"testing"
)

// BenchmarkTransition measures durable order transitions: one Update per
// op, each its own fsynced bbolt transaction (bbolt's defaults), with a
// full line of 20 orders so positions and the event are computed as in
// production.
func BenchmarkTransition(b *testing.B) {
	q, _ := newQueue(b, Options{})
	o := mustEnqueue(b, q, "s")
	for range 19 {
		mustEnqueue(b, q, "s")
	}
	stages := [...]Stage{StageSending, StageSent, StageAwaitingPayment, StagePrinting}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := q.Update(o.ID, func(o *Order) error {
			toStage(stages[i%len(stages)])(o)
			o.Attempts++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkEnqueue measures accepting an order: cap check, insert, index
// entries and event in one fsynced transaction. The line is emptied, off
// the clock, whenever it fills.
func BenchmarkEnqueue(b *testing.B) {
	q, _ := newQueue(b, Options{})
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n == q.opt.MaxOrders {
			b.StopTimer()
			pending, err := q.Pending()
			if err != nil {
				b.Fatal(err)
			}
			for _, o := range pending {
				if _, err := q.Cancel(o.ID, o.SessionID); err != nil {
					b.Fatal(err)
				}
			}
			n = 0
			b.StartTimer()
		}
		if _, err := q.Enqueue(Order{SessionID: "s", MachineCode: "CT0700026", ProductID: "p1"}); err != nil {
			b.Fatal(err)
		}
		n++
	}
}

// BenchmarkGet measures the status poll: one order read with its position
// and estimate, with a full line.
func BenchmarkGet(b *testing.B) {
	q, _ := newQueue(b, Options{})
	var last Order
	for range 20 {
		last = mustEnqueue(b, q, "s")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := q.Get(last.ID); err != nil {
			b.Fatal(err)
		}
	}
}
