// Package queue is the agent's durable print queue: the orders of one
// machine, their FIFO line, the event log the customer and operator
// WebSockets resume from, and the measured durations behind wait estimates.
//
// Everything lives in the agent's bbolt file. Every state change of an
// order, the index entries it touches and the event that announces it are
// written in one bbolt transaction, so after a crash or power cut the store
// is exactly what the last committed transaction left: recovery is reading,
// not repairing. An order whose Enqueue returned is on disk.
package queue

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/bbolt"
)

// Errors callers decide on. They are returned wrapped with context; test
// with errors.Is.
var (
	// ErrQueueFull: MaxOrders non-terminal orders already exist.
	ErrQueueFull = errors.New("queue full")
	// ErrNotFound: no order with that id.
	ErrNotFound = errors.New("order not found")
	// ErrNotOwner: the order belongs to another session.
	ErrNotOwner = errors.New("order belongs to another session")
	// ErrNotCancellable: the order has left the line (handed to the machine
	// or finished) and can no longer be cancelled by its customer.
	ErrNotCancellable = errors.New("order can no longer be cancelled")
	// ErrFinished: the order is complete, failed or cancelled; it never
	// changes again (except a failed one that an operator retries).
	ErrFinished = errors.New("order already finished")
	// ErrNotRetryable: only a failed order can be put back in line.
	ErrNotRetryable = errors.New("only a failed order can be retried")
	// ErrInvalid: the order (or the change to it) breaks a rule of the
	// store: unknown status or stage, a changed immutable field, a malformed
	// id, an oversized field.
	ErrInvalid = errors.New("invalid order")
	// ErrDuplicate: the id, vendor order id or print file token is already
	// used by another order.
	ErrDuplicate = errors.New("duplicate order key")
)

// KeyLifetime is how long at least a finished order's idempotency key
// keeps answering retries (PruneFinished keeps the order that long).
const KeyLifetime = 24 * time.Hour

// Options tune a Queue. Zero values mean the defaults.
type Options struct {
	// MaxOrders is how many non-terminal orders may exist at once; default 20.
	MaxOrders int
	// DefaultPrintDuration is the print time assumed until prints have been
	// measured; default 6 minutes.
	DefaultPrintDuration time.Duration
	// DefaultPayDuration is the time a customer is assumed to take to pay at
	// the machine until payment waits have been measured; default 1 minute.
	DefaultPayDuration time.Duration
	// KeepEvents is how many of the newest events the log keeps; default
	// 10000. Older ones are pruned in the transaction that appends.
	KeepEvents int
	// Now is the clock; default time.Now. For tests.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.MaxOrders <= 0 {
		o.MaxOrders = 20
	}
	if o.DefaultPrintDuration <= 0 {
		o.DefaultPrintDuration = 6 * time.Minute
	}
	if o.DefaultPayDuration <= 0 {
		o.DefaultPayDuration = time.Minute
	}
	if o.KeepEvents <= 0 {
		o.KeepEvents = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Queue is one machine's durable order queue. It is safe for concurrent
// use; bbolt serialises the writers.
type Queue struct {
	db  *bbolt.DB
	opt Options

	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

// Open prepares the queue's buckets in db and returns the queue. It writes
// only when a bucket is missing, so a read-only db whose buckets exist
// opens fine (for inspection tools).
func Open(db *bbolt.DB, opt Options) (*Queue, error) {
	q := &Queue{db: db, opt: opt.withDefaults(), subs: make(map[chan struct{}]struct{})}
	missing := false
	err := db.View(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				missing = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	if !missing {
		return q, nil
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	return q, nil
}

// Subscribe returns a channel that receives a value after every committed
// change to the queue (orders, events, measurements), and a func that ends
// the subscription and closes the channel. Wake-ups never block the writer:
// the channel has a buffer of one and wake-ups that find it full are
// coalesced, so a subscriber re-reads what it needs (EventsAfter, Pending)
// each time it wakes.
func (q *Queue) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	q.mu.Lock()
	q.subs[ch] = struct{}{}
	q.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			q.mu.Lock()
			delete(q.subs, ch)
			close(ch)
			q.mu.Unlock()
		})
	}
}

// notify wakes every subscriber. Call it only after a commit succeeded.
func (q *Queue) notify() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for ch := range q.subs {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// update runs fn in one read-write transaction and wakes subscribers when
// it committed.
func (q *Queue) update(fn func(*store) error) error {
	err := q.db.Update(func(tx *bbolt.Tx) error { return fn(q.store(tx)) })
	if err == nil {
		q.notify()
	}
	return err
}

// view runs fn in one read-only transaction.
func (q *Queue) view(fn func(*store) error) error {
	return q.db.View(func(tx *bbolt.Tx) error { return fn(q.store(tx)) })
}

// now is the queue's clock in UTC, without a monotonic reading, as it is
// stored.
func (q *Queue) now() time.Time { return q.opt.Now().UTC() }
