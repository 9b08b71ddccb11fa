package chitu

import (
	"log/slog"
	"sync"
)

// maxQueuedEvents bounds the events waiting for a consumer that has
// stalled. Real traffic is a few messages per order, so reaching it means
// the consumer is stuck, not busy.
const maxQueuedEvents = 10_000

// eventQueue sits between paho's callbacks, which must never block, and
// the Events channel, which the consumer drains at its own pace. It keeps
// every event in order; only past maxQueuedEvents does it drop the oldest,
// and then it owes the consumer a Resync, which tells it to reconcile what
// it missed.
type eventQueue struct {
	log   *slog.Logger
	ready chan struct{} // holds a token when an event may be waiting

	mu         sync.Mutex
	items      []Event
	dropped    int // since the last owed Resync was delivered
	closed     bool
	owesResync bool
}

func newEventQueue(log *slog.Logger) *eventQueue {
	return &eventQueue{log: log, ready: make(chan struct{}, 1)}
}

// push queues ev without blocking. After close it does nothing.
func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if len(q.items) >= maxQueuedEvents {
		if q.dropped == 0 {
			q.log.Warn("event consumer is stuck: dropping the oldest events, a Resync will follow",
				"queued", len(q.items))
		}
		q.items[0].Done()    // lost for good: the Resync that follows reconciles
		q.items[0] = Event{} // let the dropped event be collected
		q.items = q.items[1:]
		q.dropped++
		q.owesResync = true
	}
	q.items = append(q.items, ev)
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop takes the oldest event; once the queue is empty it delivers the
// Resync owed for dropped events. ok is false when nothing is waiting.
func (q *eventQueue) pop() (ev Event, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case len(q.items) > 0:
		ev = q.items[0]
		q.items[0] = Event{}
		q.items = q.items[1:]
		if len(q.items) == 0 {
			q.items = nil // release the backing array
		}
		return ev, true
	case q.owesResync:
		q.log.Warn("event consumer caught up after events were dropped", "dropped", q.dropped)
		q.owesResync, q.dropped = false, 0
		return Event{Resync: true}, true
	}
	return Event{}, false
}

// close makes later pushes no-ops.
func (q *eventQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.items = nil
}
