package queue

import (
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// PruneFinished deletes orders that finished before cutoff, oldest first
// and at most limit of them, with their index entries, in one
// transaction; it returns how many went. Only finished orders go (a
// complete, failed or cancelled order never changes again, unless an
// operator retries a recent failure), so nothing a customer or the
// machine still waits on is touched. It keeps the store from growing for
// ever on a kiosk that prints for years.
func (q *Queue) PruneFinished(cutoff time.Time, limit int) (int, error) {
	n := 0
	err := q.update(func(s *store) error {
		c := s.finished.Cursor()
		for k, id := c.First(); k != nil && n < limit; k, id = c.First() {
			o, err := s.loadIndexed(id)
			if err != nil {
				return fmt.Errorf("finished log: %w", err)
			}
			if !o.UpdatedAt.Before(cutoff) {
				return nil // the log is in finishing order: the rest are newer
			}
			if err := c.Delete(); err != nil {
				return err
			}
			if err := s.remove(o); err != nil {
				return fmt.Errorf("order %s: %w", o.ID, err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune finished orders: %w", err)
	}
	return n, nil
}

// remove deletes a finished order and its entries in the session, vendor
// order and print file indexes (the caller removes it from the finished
// log).
func (s *store) remove(o Order) error {
	if o.SessionID != "" {
		if err := s.bySession.Delete(sessionKey(o.SessionID, o.Seq)); err != nil {
			return err
		}
	}
	for b, key := range map[*bbolt.Bucket]string{s.byVendor: o.VendorOrderID, s.byFile: o.PrintFile} {
		if key != "" && string(b.Get([]byte(key))) == o.ID {
			if err := b.Delete([]byte(key)); err != nil {
				return err
			}
		}
	}
	return s.orders.Delete([]byte(o.ID))
}
