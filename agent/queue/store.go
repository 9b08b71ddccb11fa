package queue

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"
)

// The queue's buckets. Orders are the truth; every other order bucket is an
// index kept in step with them in the same transaction (Verify checks it).
// Numeric keys are 8-byte big-endian, so bbolt's byte order is their order.
var (
	bucketOrders    = []byte("queue.orders")          // order id -> Order JSON
	bucketPending   = []byte("queue.pending")         // seq -> order id, non-terminal orders only: the line
	bucketFinished  = []byte("queue.finished")        // finish number -> order id, terminal orders in the order they finished
	bucketBySession = []byte("queue.by_session")      // session id, NUL, seq -> order id
	bucketByVendor  = []byte("queue.by_vendor_id")    // vendor order id -> order id
	bucketByFile    = []byte("queue.by_print_file")   // print file token -> order id
	bucketByKey     = []byte("queue.by_idempotency")  // session id, NUL, idempotency key -> order id
	bucketEvents    = []byte("queue.events")          // event id -> Event JSON
	bucketPrints    = []byte("queue.print_durations") // measurement number -> nanoseconds
	bucketPayWaits  = []byte("queue.pay_waits")       // measurement number -> nanoseconds

	allBuckets = [][]byte{
		bucketOrders, bucketPending, bucketFinished, bucketBySession, bucketByVendor,
		bucketByFile, bucketByKey, bucketEvents, bucketPrints, bucketPayWaits, bucketSettings,
	}
)

// store is the queue's view of one transaction.
type store struct {
	q  *Queue
	tx *bbolt.Tx

	orders, pending, finished   *bbolt.Bucket
	bySession, byVendor, byFile *bbolt.Bucket
	byKey                       *bbolt.Bucket // nil in a store from before idempotency keys, opened read-only
	events, prints, payWaits    *bbolt.Bucket
}

func (q *Queue) store(tx *bbolt.Tx) *store {
	return &store{
		q: q, tx: tx,
		orders: tx.Bucket(bucketOrders), pending: tx.Bucket(bucketPending), finished: tx.Bucket(bucketFinished),
		bySession: tx.Bucket(bucketBySession), byVendor: tx.Bucket(bucketByVendor), byFile: tx.Bucket(bucketByFile),
		byKey:  tx.Bucket(bucketByKey),
		events: tx.Bucket(bucketEvents), prints: tx.Bucket(bucketPrints), payWaits: tx.Bucket(bucketPayWaits),
	}
}

func u64Key(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func keyU64(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("numeric key of %d bytes, want 8", len(k))
	}
	return binary.BigEndian.Uint64(k), nil
}

func sessionKey(sessionID string, seq uint64) []byte {
	k := append([]byte(sessionID), 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// idempotencyKey is o's entry in the idempotency index, "" for none.
func idempotencyKey(sessionID, key string) string {
	if key == "" {
		return ""
	}
	return sessionID + "\x00" + key
}

// encodeOrder is the stored form of o: JSON without the fields computed on
// read.
func encodeOrder(o Order) ([]byte, error) {
	o.QueuePosition, o.EstimatedWaitSeconds = 0, 0
	return json.Marshal(o)
}

// decodeOrder parses a stored order and checks it keeps the store's rules,
// so a damaged record is reported rather than acted on.
func decodeOrder(b []byte) (Order, error) {
	var o Order
	if err := json.Unmarshal(b, &o); err != nil {
		return Order{}, fmt.Errorf("decode order: %w", err)
	}
	o.QueuePosition, o.EstimatedWaitSeconds = 0, 0
	if err := o.validate(); err != nil {
		return Order{}, fmt.Errorf("decode order: %w", err)
	}
	return o, nil
}

// load reads one order, returning its stored bytes too.
func (s *store) load(id string) (Order, []byte, error) {
	raw := s.orders.Get([]byte(id))
	if raw == nil {
		return Order{}, nil, ErrNotFound
	}
	o, err := decodeOrder(raw)
	if err != nil {
		return Order{}, nil, fmt.Errorf("stored order: %w", err)
	}
	if o.ID != id {
		return Order{}, nil, fmt.Errorf("stored order: found order %s under id %.40q", o.ID, id)
	}
	return o, raw, nil
}

// loadIndexed reads the order an index entry points at.
func (s *store) loadIndexed(id []byte) (Order, error) {
	o, _, err := s.load(string(id))
	if err != nil {
		return Order{}, fmt.Errorf("indexed order %.40q: %w", id, err)
	}
	return o, nil
}

// insert writes a new order and its index entries.
func (s *store) insert(o Order) error {
	if err := o.validate(); err != nil {
		return err
	}
	if s.orders.Get([]byte(o.ID)) != nil {
		return fmt.Errorf("order id %s: %w", o.ID, ErrDuplicate)
	}
	if err := s.put(o); err != nil {
		return err
	}
	if !o.Status.Terminal() {
		if err := s.pending.Put(u64Key(o.Seq), []byte(o.ID)); err != nil {
			return err
		}
	}
	if o.SessionID != "" {
		if err := s.bySession.Put(sessionKey(o.SessionID, o.Seq), []byte(o.ID)); err != nil {
			return err
		}
	}
	if err := claim(s.byVendor, "vendor order id", o.VendorOrderID, o.ID); err != nil {
		return err
	}
	if err := claim(s.byKey, "idempotency key", idempotencyKey(o.SessionID, o.IdempotencyKey), o.ID); err != nil {
		return err
	}
	return claim(s.byFile, "print file", o.PrintFile, o.ID)
}

// save writes a changed order and moves its index entries along.
func (s *store) save(old, o Order) error {
	if err := o.validate(); err != nil {
		return err
	}
	if err := checkChange(old, o); err != nil {
		return err
	}
	if err := s.put(o); err != nil {
		return err
	}
	if !old.Status.Terminal() && o.Status.Terminal() {
		if err := s.pending.Delete(u64Key(o.Seq)); err != nil {
			return err
		}
		n, err := s.finished.NextSequence()
		if err != nil {
			return err
		}
		if err := s.finished.Put(u64Key(n), []byte(o.ID)); err != nil {
			return err
		}
	}
	if err := reindex(s.byVendor, "vendor order id", old.VendorOrderID, o.VendorOrderID, o.ID); err != nil {
		return err
	}
	return reindex(s.byFile, "print file", old.PrintFile, o.PrintFile, o.ID)
}

// reopen writes a finished order put back in line: it leaves the finished
// log and rejoins the line at its Seq. The finished log is searched from
// its newest end, where a recent failure is.
func (s *store) reopen(old, o Order) error {
	if err := o.validate(); err != nil {
		return err
	}
	if err := checkChange(old, o); err != nil {
		return err
	}
	if err := s.put(o); err != nil {
		return err
	}
	if err := s.pending.Put(u64Key(o.Seq), []byte(o.ID)); err != nil {
		return err
	}
	c := s.finished.Cursor()
	for k, id := c.Last(); k != nil; k, id = c.Prev() {
		if string(id) == o.ID {
			if err := c.Delete(); err != nil {
				return err
			}
			break
		}
	}
	if err := reindex(s.byVendor, "vendor order id", old.VendorOrderID, o.VendorOrderID, o.ID); err != nil {
		return err
	}
	return reindex(s.byFile, "print file", old.PrintFile, o.PrintFile, o.ID)
}

func (s *store) put(o Order) error {
	b, err := encodeOrder(o)
	if err != nil {
		return fmt.Errorf("encode order %s: %w", o.ID, err)
	}
	return s.orders.Put([]byte(o.ID), b)
}

// claim points key at order id in a unique index.
func claim(b *bbolt.Bucket, what, key, id string) error {
	if key == "" {
		return nil
	}
	if cur := b.Get([]byte(key)); cur != nil && string(cur) != id {
		return fmt.Errorf("%s %.40q already used by order %s: %w", what, key, cur, ErrDuplicate)
	}
	return b.Put([]byte(key), []byte(id))
}

// reindex moves order id's entry in a unique index from oldKey to newKey.
func reindex(b *bbolt.Bucket, what, oldKey, newKey, id string) error {
	if oldKey == newKey {
		return nil
	}
	if oldKey != "" && string(b.Get([]byte(oldKey))) == id {
		if err := b.Delete([]byte(oldKey)); err != nil {
			return err
		}
	}
	return claim(b, what, newKey, id)
}

// deleteThrough deletes the numeric keys up to and including last. Logs are
// pruned on every append, so this normally deletes one key.
func deleteThrough(b *bbolt.Bucket, last uint64) error {
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.First() {
		n, err := keyU64(k)
		if err != nil {
			return err
		}
		if n > last {
			return nil
		}
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}
