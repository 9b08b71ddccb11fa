package queue

import (
	"bytes"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// maxProblems bounds what Verify reports about a badly damaged store.
const maxProblems = 20

// Verify checks that the store is consistent: every order decodes and
// keeps the store's rules, every index entry points at an order with that
// key, and every order has exactly the index entries it should (non-terminal
// orders in the line, terminal ones in the finished log, each session,
// vendor id and print file indexed). It also checks event and measurement
// keys. It reads only; a nil result means recovery needs nothing. Meant for
// tests, `doctor` and startup checks: it reads every order.
func (q *Queue) Verify() error {
	var problems []error
	report := func(format string, args ...any) {
		if len(problems) < maxProblems {
			problems = append(problems, fmt.Errorf(format, args...))
		}
	}
	err := q.view(func(s *store) error {
		orders := make(map[string]Order)
		seqs := make(map[uint64]string)
		if err := s.orders.ForEach(func(k, v []byte) error {
			o, err := decodeOrder(v)
			switch {
			case err != nil:
				report("order %.40q: %v", k, err)
				return nil
			case o.ID != string(k):
				report("order stored under %.40q has id %s", k, o.ID)
				return nil
			case o.Seq > s.orders.Sequence():
				report("order %s: seq %d beyond the last assigned %d", o.ID, o.Seq, s.orders.Sequence())
			}
			if other, dup := seqs[o.Seq]; dup {
				report("orders %s and %s share seq %d", other, o.ID, o.Seq)
			}
			seqs[o.Seq] = o.ID
			orders[o.ID] = o
			return nil
		}); err != nil {
			return err
		}

		// Each index, as the set of keys it should hold and where they point.
		checkIndex(s.pending, "line", orders, func(o Order) []byte {
			if o.Status.Terminal() {
				return nil
			}
			return u64Key(o.Seq)
		}, report)
		checkIndex(s.bySession, "session index", orders, func(o Order) []byte {
			if o.SessionID == "" {
				return nil
			}
			return sessionKey(o.SessionID, o.Seq)
		}, report)
		checkIndex(s.byVendor, "vendor index", orders, func(o Order) []byte {
			if o.VendorOrderID == "" {
				return nil
			}
			return []byte(o.VendorOrderID)
		}, report)
		checkIndex(s.byFile, "print file index", orders, func(o Order) []byte {
			if o.PrintFile == "" {
				return nil
			}
			return []byte(o.PrintFile)
		}, report)
		if s.byKey != nil { // nil: a store from before idempotency keys, opened read-only
			checkIndex(s.byKey, "idempotency index", orders, func(o Order) []byte {
				if k := idempotencyKey(o.SessionID, o.IdempotencyKey); k != "" {
					return []byte(k)
				}
				return nil
			}, report)
		}

		// The finished log is keyed by finishing order, not by the order: it
		// must name every terminal order exactly once, and nothing else.
		finished := make(map[string]bool)
		if err := s.finished.ForEach(func(k, id []byte) error {
			if _, err := keyU64(k); err != nil {
				report("finished log: %v", err)
			}
			o, ok := orders[string(id)]
			switch {
			case !ok:
				report("finished log names unknown order %.40q", id)
			case !o.Status.Terminal():
				report("finished log names order %s, which is %s", o.ID, o.Status)
			case finished[o.ID]:
				report("finished log names order %s twice", o.ID)
			}
			finished[string(id)] = true
			return nil
		}); err != nil {
			return err
		}
		for id, o := range orders {
			if o.Status.Terminal() && !finished[id] {
				report("order %s is %s but not in the finished log", id, o.Status)
			}
		}

		last := s.events.Sequence()
		if err := s.events.ForEach(func(k, v []byte) error {
			n, err := keyU64(k)
			if err != nil {
				report("event log: %v", err)
				return nil
			}
			ev, err := decodeEvent(v)
			switch {
			case err != nil:
				report("event %d: %v", n, err)
			case ev.ID != n:
				report("event stored under %d has id %d", n, ev.ID)
			case n > last:
				report("event %d beyond the last assigned %d", n, last)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, b := range []*bbolt.Bucket{s.prints, s.payWaits} {
			if err := b.ForEach(func(k, v []byte) error {
				if _, err := keyU64(k); err != nil || len(v) != 8 {
					report("measurement %x: malformed", k)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("verify queue: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("verify queue: %w", errors.Join(problems...))
	}
	return nil
}

// checkIndex checks that bucket b maps exactly the keys want gives for the
// orders (nil: no entry) to those orders' ids.
func checkIndex(b *bbolt.Bucket, name string, orders map[string]Order, want func(Order) []byte, report func(string, ...any)) {
	_ = b.ForEach(func(k, id []byte) error {
		o, ok := orders[string(id)]
		if !ok {
			report("%s: %.40q points at unknown order %.40q", name, k, id)
			return nil
		}
		if w := want(o); !bytes.Equal(w, k) {
			report("%s: %.40q points at order %s, which should be under %.40q", name, k, o.ID, w)
		}
		return nil
	})
	for id, o := range orders {
		k := want(o)
		if k == nil {
			continue
		}
		if got := b.Get(k); !bytes.Equal(got, []byte(id)) {
			report("%s: order %s missing under %.40q", name, id, k)
		}
	}
}
