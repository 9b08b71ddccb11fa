package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Event types.
const (
	EventOrderUpdate   = "orderUpdate"   // Data is the order after the change, position and estimate as of the commit
	EventMachineStatus = "machineStatus" // Data is whatever the dispatcher published
	EventNozzleClean   = "nozzleClean"   // Data is a NozzleClean: the printer's answer to a nozzle cleaning; for operators only
)

// NozzleClean is an EventNozzleClean's data. Events logged before this
// type also carried the printer's msgType and machineId, which readers
// ignore.
type NozzleClean struct {
	Result bool `json:"result"` // the printer says the cleaning worked
}

// Event is one entry of the log the events WebSocket streams and resumes
// from. IDs are consecutive, starting at 1, and never reused.
type Event struct {
	ID        uint64          `json:"id"`
	Type      string          `json:"type"`
	Time      time.Time       `json:"time"`
	OrderID   string          `json:"orderId,omitempty"`
	SessionID string          `json:"sessionId,omitempty"` // the order's owner, for filtering what a customer may see
	Data      json.RawMessage `json:"data"`
}

// maxEventData bounds an event's payload: the log is replayed to clients.
const maxEventData = 64 << 10

// AppendEvent appends an event that is not about one order, such as
// machineStatus. Order changes append their own events.
func (q *Queue) AppendEvent(typ string, data any) (Event, error) {
	if typ == "" || len(typ) > 64 {
		return Event{}, fmt.Errorf("append event: %w: bad type %.64q", ErrInvalid, typ)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("append %s event: %w", typ, err)
	}
	var ev Event
	err = q.update(func(s *store) error {
		ev, err = s.appendEvent(typ, "", "", b)
		return err
	})
	if err != nil {
		return Event{}, fmt.Errorf("append %s event: %w", typ, err)
	}
	return ev, nil
}

// appendEvent adds an event to the log and prunes the log to KeepEvents.
func (s *store) appendEvent(typ, orderID, sessionID string, data []byte) (Event, error) {
	if len(data) > maxEventData {
		return Event{}, fmt.Errorf("%w: event data of %d bytes", ErrInvalid, len(data))
	}
	id, err := s.events.NextSequence()
	if err != nil {
		return Event{}, err
	}
	ev := Event{ID: id, Type: typ, Time: s.q.now(), OrderID: orderID, SessionID: sessionID, Data: data}
	b, err := json.Marshal(ev)
	if err != nil {
		return Event{}, fmt.Errorf("encode event: %w", err)
	}
	if err := s.events.Put(u64Key(id), b); err != nil {
		return Event{}, err
	}
	if keep := uint64(s.q.opt.KeepEvents); id > keep {
		if err := deleteThrough(s.events, id-keep); err != nil {
			return Event{}, fmt.Errorf("prune events: %w", err)
		}
	}
	return ev, nil
}

// EventsAfter returns up to limit events with IDs greater than after, in
// ascending order (limit <= 0: all that are kept). Because IDs are
// consecutive, a client resuming from after has missed events exactly when
// the first returned event's ID is greater than after+1; an after beyond
// LastEventID is a cursor from another store (start over).
func (q *Queue) EventsAfter(after uint64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = q.opt.KeepEvents
	}
	var evs []Event
	err := q.view(func(s *store) error {
		if after == ^uint64(0) {
			return nil
		}
		c := s.events.Cursor()
		for k, v := c.Seek(u64Key(after + 1)); k != nil && len(evs) < limit; k, v = c.Next() {
			ev, err := decodeEvent(v)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events after %d: %w", after, err)
	}
	return evs, nil
}

// LastEventID is the ID of the newest event, 0 if there has been none.
func (q *Queue) LastEventID() (uint64, error) {
	var id uint64
	err := q.view(func(s *store) error {
		id = s.events.Sequence()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("last event id: %w", err)
	}
	return id, nil
}

// OldestEventID is the ID of the oldest event still kept, 0 if the log is
// empty. A client that last saw an ID below OldestEventID-1 missed events.
func (q *Queue) OldestEventID() (uint64, error) {
	var id uint64
	err := q.view(func(s *store) error {
		k, _ := s.events.Cursor().First()
		if k == nil {
			return nil
		}
		var err error
		id, err = keyU64(k)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("oldest event id: %w", err)
	}
	return id, nil
}

// decodeEvent parses a stored event.
func decodeEvent(b []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	if ev.ID == 0 || ev.Type == "" {
		return Event{}, errors.New("decode event: no id or type")
	}
	return ev, nil
}

// ParseEventID parses an event cursor as a client sends it back (a
// WebSocket query parameter or message): a decimal event ID, "0" meaning
// from the start.
func ParseEventID(s string) (uint64, error) {
	if s == "" || len(s) > 20 {
		return 0, fmt.Errorf("event id %.24q: not a decimal id", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("event id %.24q: not a decimal id", s)
		}
	}
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("event id %.24q: %w", s, err)
	}
	return id, nil
}
