package queue

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"go.etcd.io/bbolt"
)

// Wait estimates.
//
// A machine serves one order at a time and each order costs one cycle: the
// customer pays at the machine, then it prints.
//
//	cycle = median of the last 20 payment waits (DefaultPayDuration until one is measured)
//	      + median of the last 20 print durations (DefaultPrintDuration until one is measured)
//
// Medians, so that one order abandoned at the machine or one print stalled
// by an outage does not move every estimate.
//
// A waiting order's estimated wait is the time until its turn at the
// machine, when the customer should be there to pay:
//
//	wait = remaining + waitingAhead × cycle
//
// remaining is what is left of the order at the machine (the Active one):
// cycle minus the time since its SentAt (the whole cycle while it is still
// being sent), never below zero; zero when the machine is free.
// waitingAhead is the number of waiting orders ahead of it. QueuePosition
// counts the active order as well, so waitingAhead is p-2 with an order at
// the machine and p-1 without: the head of an idle machine waits 0, and the
// order right behind the active one waits its remaining time.

// window is how many measurements of each kind the medians use.
const window = 20

// RecordPrint records how long a print took, for estimates. Prefer
// UpdateAndRecord with the completing transition, which records it in the
// same transaction.
func (q *Queue) RecordPrint(d time.Duration) error {
	if err := q.update(func(s *store) error { return s.record(Measure{Print: d}) }); err != nil {
		return fmt.Errorf("record print duration: %w", err)
	}
	return nil
}

// RecordPayWait records how long a customer took to pay at the machine
// (from the order being sent to it being paid), for estimates.
func (q *Queue) RecordPayWait(d time.Duration) error {
	if err := q.update(func(s *store) error { return s.record(Measure{PayWait: d}) }); err != nil {
		return fmt.Errorf("record payment wait: %w", err)
	}
	return nil
}

// Summary describes the line as a newcomer faces it, for the machine status
// endpoint and for Retry-After when the queue is full.
type Summary struct {
	Pending  int           // non-terminal orders, the one at the machine included
	Waiting  int           // orders waiting in line
	Full     bool          // Enqueue would refuse with ErrQueueFull
	Cycle    time.Duration // expected time per order: payment + print
	NextWait time.Duration // estimated wait of an order enqueued now
}

// Summary returns the line's summary.
func (q *Queue) Summary() (Summary, error) {
	var sum Summary
	err := q.view(func(s *store) error {
		l, err := s.lineup()
		if err != nil {
			return err
		}
		sum.Pending = len(l.line)
		for _, o := range l.line {
			if o.Waiting() {
				sum.Waiting++
			}
		}
		sum.Full = sum.Pending >= q.opt.MaxOrders
		sum.Cycle = l.cycle
		sum.NextWait = l.remaining() + time.Duration(sum.Waiting)*l.cycle
		return nil
	})
	if err != nil {
		return Summary{}, fmt.Errorf("queue summary: %w", err)
	}
	return sum, nil
}

// EstimateWait is the estimated wait of a waiting order at position p
// (positions count the order at the machine, as QueuePosition does); for a
// newcomer ask for len(Pending())+1, or use Summary().NextWait.
func (q *Queue) EstimateWait(p int) (time.Duration, error) {
	var wait time.Duration
	err := q.view(func(s *store) error {
		l, err := s.lineup()
		if err != nil {
			return err
		}
		wait = l.waitAt(p)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("estimate wait at position %d: %w", p, err)
	}
	return wait, nil
}

// lineup is the line as of one transaction: what positions and estimates
// are computed from.
type lineup struct {
	line   []Order // non-terminal orders by Seq
	active *Order  // the first order in line handed to the machine, if any
	cycle  time.Duration
	now    time.Time
}

func (s *store) lineup() (lineup, error) {
	l := lineup{now: s.q.now()}
	c := s.pending.Cursor()
	for k, id := c.First(); k != nil; k, id = c.Next() {
		o, err := s.loadIndexed(id)
		if err != nil {
			return lineup{}, err
		}
		l.line = append(l.line, o)
	}
	for i := range l.line {
		if l.line[i].AtMachine() {
			l.active = &l.line[i]
			break
		}
	}
	pay, err := s.median(s.payWaits, s.q.opt.DefaultPayDuration)
	if err != nil {
		return lineup{}, err
	}
	print, err := s.median(s.prints, s.q.opt.DefaultPrintDuration)
	if err != nil {
		return lineup{}, err
	}
	l.cycle = pay + print
	return l, nil
}

// waitAt is the estimated wait of a waiting order at position p.
func (l *lineup) waitAt(p int) time.Duration {
	waitingAhead := p - 1
	if l.active != nil {
		waitingAhead--
	}
	return l.remaining() + time.Duration(max(waitingAhead, 0))*l.cycle
}

// remaining is what is left of the active order's cycle.
func (l *lineup) remaining() time.Duration {
	if l.active == nil {
		return 0
	}
	var elapsed time.Duration
	if l.active.SentAt != nil {
		elapsed = l.now.Sub(*l.active.SentAt)
	}
	return max(l.cycle-max(elapsed, 0), 0)
}

// fill sets o's QueuePosition and EstimatedWaitSeconds; both are zero
// unless o waits in line.
func (l *lineup) fill(o *Order) {
	o.QueuePosition, o.EstimatedWaitSeconds = 0, 0
	if !o.Waiting() {
		return
	}
	ahead, waitingAhead := 0, 0
	for _, p := range l.line {
		if p.Seq >= o.Seq {
			break
		}
		if p.Unknown() {
			continue // out of the line, waiting for the staff
		}
		ahead++
		if p.Waiting() {
			waitingAhead++
		}
	}
	o.QueuePosition = ahead + 1
	wait := l.remaining() + time.Duration(waitingAhead)*l.cycle
	o.EstimatedWaitSeconds = int(math.Ceil(wait.Seconds()))
}

// fill returns o with its position and estimate as of this transaction.
func (s *store) fill(o Order) (Order, error) {
	if !o.Waiting() {
		o.QueuePosition, o.EstimatedWaitSeconds = 0, 0
		return o, nil
	}
	l, err := s.lineup()
	if err != nil {
		return Order{}, err
	}
	l.fill(&o)
	return o, nil
}

// record stores the measurements in m.
func (s *store) record(m Measure) error {
	if m.Print < 0 || m.PayWait < 0 {
		return fmt.Errorf("%w: negative duration", ErrInvalid)
	}
	if m.Print > 0 {
		if err := s.measure(s.prints, m.Print); err != nil {
			return err
		}
	}
	if m.PayWait > 0 {
		return s.measure(s.payWaits, m.PayWait)
	}
	return nil
}

// measure appends d to a measurement bucket and drops what falls out of
// the window.
func (s *store) measure(b *bbolt.Bucket, d time.Duration) error {
	n, err := b.NextSequence()
	if err != nil {
		return err
	}
	if err := b.Put(u64Key(n), binary.BigEndian.AppendUint64(nil, uint64(d))); err != nil {
		return err
	}
	if n > window {
		return deleteThrough(b, n-window)
	}
	return nil
}

// median is the median of the last window measurements in b, or def when
// there are none.
func (s *store) median(b *bbolt.Bucket, def time.Duration) (time.Duration, error) {
	var ds []time.Duration
	c := b.Cursor()
	for k, v := c.Last(); k != nil && len(ds) < window; k, v = c.Prev() {
		if len(v) != 8 {
			return 0, fmt.Errorf("measurement of %d bytes, want 8", len(v))
		}
		ds = append(ds, time.Duration(binary.BigEndian.Uint64(v)))
	}
	if len(ds) == 0 {
		return def, nil
	}
	slices.Sort(ds)
	mid := len(ds) / 2
	if len(ds)%2 == 1 {
		return ds[mid], nil
	}
	return (ds[mid-1] + ds[mid]) / 2, nil
}
