package queue

import (
	"bytes"
	"fmt"
	"time"
)

// Every read runs in one read-only transaction and returns orders with
// their position and estimate as of that transaction.

// Get returns one order, or ErrNotFound.
func (q *Queue) Get(id string) (Order, error) {
	var o Order
	err := q.view(func(s *store) error {
		var err error
		if o, _, err = s.load(id); err != nil {
			return err
		}
		o, err = s.fill(o)
		return err
	})
	if err != nil {
		return Order{}, fmt.Errorf("get order %.40q: %w", id, err)
	}
	return o, nil
}

// Head returns the waiting order with the smallest Seq: the next one to
// hand to the machine.
func (q *Queue) Head() (Order, bool, error) {
	return q.first("head", Order.Waiting)
}

// Active returns the order handed to the machine (AtMachine). There is at
// most one; should there be several, the one with the smallest Seq.
func (q *Queue) Active() (Order, bool, error) {
	return q.first("active order", Order.AtMachine)
}

// Unknown returns the orders of unknown outcome, oldest first: they wait
// for the staff's decision.
func (q *Queue) Unknown() ([]Order, error) {
	pending, err := q.Pending()
	if err != nil {
		return nil, err
	}
	var out []Order
	for _, o := range pending {
		if o.Unknown() {
			out = append(out, o)
		}
	}
	return out, nil
}

func (q *Queue) first(what string, match func(Order) bool) (Order, bool, error) {
	var (
		o     Order
		found bool
	)
	err := q.view(func(s *store) error {
		l, err := s.lineup()
		if err != nil {
			return err
		}
		for _, p := range l.line {
			if match(p) {
				o, found = p, true
				l.fill(&o)
				break
			}
		}
		return nil
	})
	if err != nil {
		return Order{}, false, fmt.Errorf("%s: %w", what, err)
	}
	return o, found, nil
}

// Pending returns all non-terminal orders in Seq order (the one at the
// machine included), positions and estimates filled.
func (q *Queue) Pending() ([]Order, error) {
	orders, _, err := q.Line()
	if err != nil {
		return nil, fmt.Errorf("pending orders: %w", err)
	}
	return orders, nil
}

// Line returns the pending orders, as Pending does, and the estimated
// wait of an order joining now, as EstimateWait(len(orders)+1) does, from
// one reading of the line: the machine's status asks for both on every
// poll, and reading the line is most of what a status costs (the wait
// comes from what that reading computes anyway).
func (q *Queue) Line() (orders []Order, nextWait time.Duration, err error) {
	err = q.view(func(s *store) error {
		l, err := s.lineup()
		if err != nil {
			return err
		}
		for _, o := range l.line {
			l.fill(&o)
			orders = append(orders, o)
		}
		nextWait = l.waitAt(len(l.line) + 1)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("line: %w", err)
	}
	return orders, nextWait, nil
}

// maxRecent bounds Recent, whose n may come from an operator's request.
const maxRecent = 1000

// Recent returns the n most recently finished orders, newest first (n is
// capped at 1000).
func (q *Queue) Recent(n int) ([]Order, error) {
	n = min(n, maxRecent)
	var orders []Order
	err := q.view(func(s *store) error {
		c := s.finished.Cursor()
		for k, id := c.Last(); k != nil && len(orders) < n; k, id = c.Prev() {
			o, err := s.loadIndexed(id)
			if err != nil {
				return err
			}
			orders = append(orders, o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recent orders: %w", err)
	}
	return orders, nil
}

// BySession returns a session's orders, oldest first.
func (q *Queue) BySession(sessionID string) ([]Order, error) {
	var orders []Order
	if sessionID == "" {
		return nil, nil
	}
	err := q.view(func(s *store) error {
		var l *lineup
		prefix := append([]byte(sessionID), 0)
		c := s.bySession.Cursor()
		for k, id := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, id = c.Next() {
			o, err := s.loadIndexed(id)
			if err != nil {
				return err
			}
			if o.Waiting() && l == nil {
				line, err := s.lineup()
				if err != nil {
					return err
				}
				l = &line
			}
			if l != nil {
				l.fill(&o)
			}
			orders = append(orders, o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("orders of session %.40q: %w", sessionID, err)
	}
	return orders, nil
}

// FindByIdempotencyKey returns the order a session made with an
// idempotency key, if any.
func (q *Queue) FindByIdempotencyKey(sessionID, key string) (Order, bool, error) {
	k := idempotencyKey(sessionID, key)
	return q.findBy("idempotency key", k, func(s *store) []byte {
		if s.byKey == nil {
			return nil
		}
		return s.byKey.Get([]byte(k))
	})
}

// FindByVendorID returns the order the vendor knows by vendorID, matching
// the vendor's MQTT order events to ours.
func (q *Queue) FindByVendorID(vendorID string) (Order, bool, error) {
	return q.findBy("vendor order id", vendorID, func(s *store) []byte { return s.byVendor.Get([]byte(vendorID)) })
}

// FindByPrintFile returns the order whose print file has this token, for
// serving the file to the machine and noting when it was fetched.
func (q *Queue) FindByPrintFile(token string) (Order, bool, error) {
	return q.findBy("print file", token, func(s *store) []byte { return s.byFile.Get([]byte(token)) })
}

func (q *Queue) findBy(what, key string, lookup func(*store) []byte) (Order, bool, error) {
	if key == "" || len(key) > maxField {
		return Order{}, false, nil
	}
	var (
		o     Order
		found bool
	)
	err := q.view(func(s *store) error {
		id := lookup(s)
		if id == nil {
			return nil
		}
		var err error
		if o, err = s.loadIndexed(id); err != nil {
			return err
		}
		found = true
		o, err = s.fill(o)
		return err
	})
	if err != nil {
		return Order{}, false, fmt.Errorf("find order by %s %.40q: %w", what, key, err)
	}
	return o, found, nil
}
