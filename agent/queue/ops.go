package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// errUnchanged rolls back a transaction that found nothing to write.
var errUnchanged = errors.New("unchanged")

// Enqueue puts a new order at the end of the line: Status and Stage queued,
// the next Seq, CreatedAt now, and a NewID if o.ID is empty (a given id must
// be ValidID and unused). It refuses with ErrQueueFull when MaxOrders
// non-terminal orders exist. The cap check, the insert, its index entries
// and its orderUpdate event are one transaction, so concurrent callers never
// overshoot the cap and get distinct positions. The returned order has its
// position and estimate filled.
func (q *Queue) Enqueue(o Order) (Order, error) {
	out, _, err := q.EnqueueOnce(o)
	return out, err
}

// EnqueueOnce is Enqueue for an order that carries an IdempotencyKey: if
// its session already made an order with that key, that order is returned
// with created false and nothing is written (the caller compares
// RequestHash to tell a retry from a reused key). The look-up and the
// insert are one transaction, so two requests with one key make one order.
// The existing order is returned even when the line is full now.
func (q *Queue) EnqueueOnce(o Order) (out Order, created bool, err error) {
	if o.ID == "" {
		o.ID = NewID()
	}
	err = q.update(func(s *store) error {
		if key := idempotencyKey(o.SessionID, o.IdempotencyKey); key != "" {
			if id := s.byKey.Get([]byte(key)); id != nil {
				old, err := s.loadIndexed(id)
				if err != nil {
					return err
				}
				if out, err = s.fill(old); err != nil {
					return err
				}
				return errUnchanged
			}
		}
		if n := s.countPending(q.opt.MaxOrders); n >= q.opt.MaxOrders {
			return fmt.Errorf("%d orders in line: %w", n, ErrQueueFull)
		}
		seq, err := s.orders.NextSequence()
		if err != nil {
			return err
		}
		now := q.now()
		o.Seq = seq
		o.Status, o.Stage = StatusQueued, StageQueued
		o.CreatedAt, o.UpdatedAt = now, now
		if err := s.insert(o); err != nil {
			return err
		}
		out, err = s.announce(o)
		created = err == nil
		return err
	})
	if errors.Is(err, errUnchanged) {
		return out, false, nil
	}
	if err != nil {
		return Order{}, false, fmt.Errorf("enqueue order %s: %w", o.ID, err)
	}
	return out, created, nil
}

// Cancel cancels a waiting order on behalf of the session that owns it:
// ErrNotFound, ErrNotOwner (another or no session), or ErrNotCancellable
// once the order has been handed to the machine or has finished. A
// cancelled order gets CompletedAt and an orderUpdate event.
func (q *Queue) Cancel(id, sessionID string) (Order, error) {
	var out Order
	err := q.update(func(s *store) error {
		old, _, err := s.load(id)
		if err != nil {
			return err
		}
		if sessionID == "" || old.SessionID != sessionID {
			return ErrNotOwner
		}
		if !old.Waiting() {
			return fmt.Errorf("%w: order is %s", ErrNotCancellable, old.Stage)
		}
		o := old
		now := q.now()
		o.Status, o.Stage = StatusCancelled, StageCancelled
		o.CancelledBy = CancelledByCustomer
		o.CompletedAt, o.UpdatedAt = &now, now
		if err := s.save(old, o); err != nil {
			return err
		}
		out, err = s.announce(o)
		return err
	})
	if err != nil {
		return Order{}, fmt.Errorf("cancel order %.40q: %w", id, err)
	}
	return out, nil
}

// Retry puts a failed order back in line for a fresh round of attempts:
// an operator's decision once the cause is fixed. It keeps its Seq, so it
// is the head of the line again (its customer has waited already), and its
// session and print file; the vendor order id, pickup code, attempts,
// send, fetch, start and finish times and the failure reason are cleared.
// It leaves the finished log and rejoins the line, with an orderUpdate
// event, in one transaction. An order of unknown outcome is retried the
// same way (the staff say it did not print): it is still in the line's
// bucket, so only its fields change. ErrNotFound, ErrNotRetryable for an
// order that has not failed nor is unknown, ErrQueueFull when MaxOrders
// orders are in line.
func (q *Queue) Retry(id string) (Order, error) {
	var out Order
	err := q.update(func(s *store) error {
		old, _, err := s.load(id)
		if err != nil {
			return err
		}
		o := old
		o.Status, o.Stage = StatusQueued, StageQueued
		o.Attempts = 0
		o.VendorOrderID, o.PickupCode, o.FailureReason = "", "", ""
		o.SentAt, o.FetchedAt, o.StartedAt, o.CompletedAt = nil, nil, nil, nil
		o.UpdatedAt = q.now()
		switch {
		case old.Unknown(): // still in the line's bucket, and counted in it
			err = s.save(old, o)
		case old.Status != StatusFailed:
			return fmt.Errorf("%w: order is %s", ErrNotRetryable, old.Status)
		default:
			if n := s.countPending(q.opt.MaxOrders); n >= q.opt.MaxOrders {
				return fmt.Errorf("%d orders in line: %w", n, ErrQueueFull)
			}
			err = s.reopen(old, o)
		}
		if err != nil {
			return err
		}
		out, err = s.announce(o)
		return err
	})
	if err != nil {
		return Order{}, fmt.Errorf("retry order %.40q: %w", id, err)
	}
	return out, nil
}

// Update applies fn to the stored order and commits the changed order, its
// index updates and an orderUpdate event in one transaction. If fn returns
// an error nothing is written and Update returns that error (wrapped). If
// fn leaves the order as it was, nothing is written either (no event, no
// fsync), which makes duplicate vendor messages free. Finished orders never
// change: ErrFinished. ID, Seq, SessionID and CreatedAt are fixed for life
// (ErrInvalid). Status and Stage must agree on being terminal; a change to
// a terminal state sets CompletedAt if fn did not. UpdatedAt is set to now.
//
// To put an order back in line (a retry), set Status and Stage to queued:
// it keeps its Seq and so is the Head again.
func (q *Queue) Update(id string, fn func(*Order) error) (Order, error) {
	return q.UpdateAndRecord(id, func(o *Order) (Measure, error) { return Measure{}, fn(o) })
}

// Measure is what an order's transition measured, recorded for estimates
// in the same transaction. Zero fields record nothing.
type Measure struct {
	Print   time.Duration // how long the print took
	PayWait time.Duration // how long the customer took to pay at the machine
}

// UpdateAndRecord is Update for a transition that also measured something,
// typically completion: the measurement is recorded in the same
// transaction as the change, so it is counted exactly once.
func (q *Queue) UpdateAndRecord(id string, fn func(*Order) (Measure, error)) (Order, error) {
	var out Order
	err := q.update(func(s *store) error {
		old, raw, err := s.load(id)
		if err != nil {
			return err
		}
		if old.Status.Terminal() {
			return fmt.Errorf("%w: order is %s", ErrFinished, old.Status)
		}
		o, err := decodeOrder(raw) // a private copy: fn may write through its pointers
		if err != nil {
			return err
		}
		m, err := fn(&o)
		if err != nil {
			return err
		}
		if o.Status.Terminal() && o.CompletedAt == nil {
			now := q.now()
			o.CompletedAt = &now
		}
		o.UpdatedAt = old.UpdatedAt
		if m == (Measure{}) {
			if b, err := encodeOrder(o); err == nil && bytes.Equal(b, raw) {
				out, err = s.fill(old)
				if err != nil {
					return err
				}
				return errUnchanged
			}
		}
		o.UpdatedAt = q.now()
		if err := s.save(old, o); err != nil {
			return err
		}
		if err := s.record(m); err != nil {
			return err
		}
		out, err = s.announce(o)
		return err
	})
	if errors.Is(err, errUnchanged) {
		return out, nil
	}
	if err != nil {
		return Order{}, fmt.Errorf("update order %.40q: %w", id, err)
	}
	return out, nil
}

// announce fills o's position and estimate as of this transaction and
// appends its orderUpdate event.
func (s *store) announce(o Order) (Order, error) {
	o, err := s.fill(o)
	if err != nil {
		return Order{}, err
	}
	data, err := json.Marshal(o)
	if err != nil {
		return Order{}, fmt.Errorf("encode order %s: %w", o.ID, err)
	}
	if _, err := s.appendEvent(EventOrderUpdate, o.ID, o.SessionID, data); err != nil {
		return Order{}, err
	}
	return o, nil
}

// countPending counts the non-terminal orders, stopping at limit: the line
// is short, and history is never scanned.
func (s *store) countPending(limit int) int {
	n := 0
	c := s.pending.Cursor()
	for k, _ := c.First(); k != nil && n < limit; k, _ = c.Next() {
		n++
	}
	return n
}
