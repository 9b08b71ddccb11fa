package queue

import (
	"bytes"
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
//
// An order made with an idempotency key stays at least KeyLifetime after
// it finished, whatever the cutoff, so that a customer's retry within a
// day finds it rather than making it again.
func (q *Queue) PruneFinished(cutoff time.Time, limit int) (int, error) {
	keysUntil := q.now().Add(-KeyLifetime)
	n := 0
	err := q.update(func(s *store) error {
		type entry struct {
			k []byte
			o Order
		}
		var doomed []entry
		c := s.finished.Cursor()
		for k, id := c.First(); k != nil && len(doomed) < limit; k, id = c.Next() {
			o, err := s.loadIndexed(id)
			if err != nil {
				return fmt.Errorf("finished log: %w", err)
			}
			if !o.UpdatedAt.Before(cutoff) {
				break // the log is in finishing order: the rest are newer
			}
			if o.IdempotencyKey != "" && !o.UpdatedAt.Before(keysUntil) {
				continue // its key must still answer a retry
			}
			doomed = append(doomed, entry{k: bytes.Clone(k), o: o})
		}
		// Deleting while a cursor walks a bucket can skip entries: delete
		// after the walk.
		for _, e := range doomed {
			if err := s.finished.Delete(e.k); err != nil {
				return err
			}
			if err := s.remove(e.o); err != nil {
				return fmt.Errorf("order %s: %w", e.o.ID, err)
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
	indexes := map[*bbolt.Bucket]string{
		s.byVendor: o.VendorOrderID, s.byFile: o.PrintFile, s.byKey: idempotencyKey(o.SessionID, o.IdempotencyKey),
	}
	for b, key := range indexes {
		if key != "" && string(b.Get([]byte(key))) == o.ID {
			if err := b.Delete([]byte(key)); err != nil {
				return err
			}
		}
	}
	return s.orders.Delete([]byte(o.ID))
}
