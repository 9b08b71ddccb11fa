package metrics

import (
	"context"
	"encoding/json"

	"casefleet/agent/queue"
)

// eventBatch is how many events one read of the log takes.
const eventBatch = 500

// startCursor is where counting starts: the end of the log when New ran.
// What finished before was counted by the agent that ran then.
func (m *Metrics) startCursor() (uint64, bool) {
	id, err := m.opt.Queue.LastEventID()
	if err != nil {
		m.log.Warn("read the event log", "err", err)
		return 0, false
	}
	return id, true
}

// Run counts the orders that finish after New, by following the queue's
// event log, until ctx is done. It never fails the agent: a read error is
// logged and the read retried at the next change.
func (m *Metrics) Run(ctx context.Context) error {
	changes, stop := m.opt.Queue.Subscribe()
	defer stop()
	cursor, started := m.cursor, m.cursorOK
	for {
		if started {
			cursor = m.follow(cursor)
		} else {
			cursor, started = m.startCursor()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changes:
		}
	}
}

// follow counts the orders that finished in the events after cursor and
// returns the new cursor.
func (m *Metrics) follow(cursor uint64) uint64 {
	for {
		evs, err := m.opt.Queue.EventsAfter(cursor, eventBatch)
		if err != nil {
			m.log.Warn("read the event log", "err", err)
			return cursor
		}
		for _, ev := range evs {
			cursor = ev.ID
			if ev.Type != queue.EventOrderUpdate {
				continue
			}
			var o queue.Order
			if err := json.Unmarshal(ev.Data, &o); err != nil {
				m.log.Warn("decode order event", "event", ev.ID, "err", err)
				continue
			}
			m.observeOrder(o)
		}
		if len(evs) < eventBatch {
			return cursor
		}
	}
}

// observeOrder counts an order that has just changed, if it finished. A
// finished order never changes again, so each finish is seen once.
func (m *Metrics) observeOrder(o queue.Order) {
	if !o.Status.Terminal() {
		return
	}
	m.finished.WithLabelValues(string(o.Status)).Inc()
	switch o.Status {
	case queue.StatusFailed:
		m.failures.WithLabelValues(Reason(o.FailureReason)).Inc()
	case queue.StatusComplete:
		if o.StartedAt != nil && o.CompletedAt != nil && o.CompletedAt.After(*o.StartedAt) {
			m.printDuration.Observe(o.CompletedAt.Sub(*o.StartedAt).Seconds())
		}
	}
}
