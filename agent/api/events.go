package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"casefleet/agent/dispatch"
	"casefleet/agent/queue"
)

// Events WebSocket protocol (server to client, JSON text messages):
//
//	{"id": 42, "type": "orderUpdate",   "data": <order>}
//	{"id": 43, "type": "machineStatus", "data": <machine status>}
//	{"id": 43, "type": "resync"}   the client's lastEventId is older than the log
//
// A client that reconnects with ?lastEventId=N gets every event after N that
// concerns it (its own orders, and the machine), so nothing is missed. The
// first connection (no lastEventId) starts with the machine's status and the
// session's orders as they are now.
const (
	eventBatch   = 200
	pingInterval = 25 * time.Second
	writeTimeout = 10 * time.Second
)

type wireEvent struct {
	ID   uint64 `json:"id"`
	Type string `json:"type"`
	Data any    `json:"data,omitempty"`
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if err := s.checkMachine(r.PathValue("code")); err != nil {
		writeError(w, s.log, err)
		return
	}
	sess, err := s.sessionOf(r, "")
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	var after uint64
	resume := false
	if v := r.URL.Query().Get("lastEventId"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			writeError(w, s.log, newError(http.StatusBadRequest, "bad_event_id", "lastEventId must be a whole number."))
			return
		}
		resume = true
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered the client
	}
	defer conn.CloseNow()
	ctx := conn.CloseRead(r.Context())
	st := &eventStream{s: s, conn: conn, session: sess.SessionID, last: after, positions: map[string][2]int{}}
	err = st.run(ctx, resume)
	switch {
	case err == nil, errors.Is(err, context.Canceled), websocket.CloseStatus(err) != -1:
		conn.Close(websocket.StatusNormalClosure, "")
	default:
		s.log.Debug("events stream ended", "session", sess.SessionID, "err", err)
		conn.Close(websocket.StatusInternalError, "")
	}
}

type eventStream struct {
	s       *Server
	conn    *websocket.Conn
	session string
	last    uint64
	// positions remembers the place and estimate last sent per order, so a
	// changed place in line is sent even though the order itself did not
	// change.
	positions map[string][2]int
}

func (st *eventStream) run(ctx context.Context, resume bool) error {
	changes, stop := st.s.opt.Queue.Subscribe()
	defer stop()
	if resume {
		// Event ids have no gaps: if the first one after the client's id is
		// not the next number, the log was pruned past it.
		evs, err := st.s.opt.Queue.EventsAfter(st.last, 1)
		if err != nil {
			return err
		}
		newest, err := st.s.opt.Queue.LastEventID()
		if err != nil {
			return err
		}
		// A gap means pruned events; an id from the future means the
		// client saw another store (say, before a reinstall).
		if (len(evs) > 0 && evs[0].ID > st.last+1) || st.last > newest {
			if err := st.send(ctx, wireEvent{ID: st.last, Type: "resync"}); err != nil {
				return err
			}
			resume = false
		}
	}
	if !resume {
		if err := st.snapshot(ctx); err != nil {
			return err
		}
	} else if err := st.watchWaiting(); err != nil {
		return err
	}
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	for {
		if err := st.drain(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changes:
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := st.conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		}
	}
}

// snapshot sends the machine's status and the session's orders as they are.
func (st *eventStream) snapshot(ctx context.Context) error {
	last, err := st.s.opt.Queue.LastEventID()
	if err != nil {
		return err
	}
	st.last = last
	status, err := st.s.opt.Machine.Status()
	if err != nil {
		return err
	}
	if err := st.send(ctx, wireEvent{ID: last, Type: "machineStatus", Data: st.s.publicStatus(status)}); err != nil {
		return err
	}
	orders, err := st.s.opt.Queue.BySession(st.session)
	if err != nil {
		return err
	}
	for _, o := range orders {
		if err := st.sendOrder(ctx, last, o); err != nil {
			return err
		}
	}
	return nil
}

// drain sends the logged events after st.last that concern this session,
// then fresh places in line for its waiting orders.
func (st *eventStream) drain(ctx context.Context) error {
	for {
		evs, err := st.s.opt.Queue.EventsAfter(st.last, eventBatch)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			st.last = ev.ID
			switch ev.Type {
			case "machineStatus":
				// The log keeps the dispatcher's whole status; a customer
				// gets the public part of it.
				var status dispatch.Status
				if err := json.Unmarshal(ev.Data, &status); err != nil {
					return fmt.Errorf("machine status event %d: %w", ev.ID, err)
				}
				if err := st.send(ctx, wireEvent{ID: ev.ID, Type: ev.Type, Data: st.s.publicStatus(status)}); err != nil {
					return err
				}
			case "orderUpdate":
				if ev.SessionID != st.session {
					continue
				}
				var o queue.Order
				if err := json.Unmarshal(ev.Data, &o); err != nil {
					return err
				}
				if fresh, err := st.s.opt.Queue.Get(o.ID); err == nil && fresh.UpdatedAt.Equal(o.UpdatedAt) {
					o = fresh // same state, with the current place in line
				}
				if err := st.sendOrder(ctx, ev.ID, o); err != nil {
					return err
				}
			}
		}
		if len(evs) < eventBatch {
			break
		}
	}
	return st.refreshPositions(ctx)
}

// watchWaiting marks the session's waiting orders as never sent, so that a
// resumed stream sends their current places: the line may have moved while
// the phone was away without an event of this session's.
func (st *eventStream) watchWaiting() error {
	orders, err := st.s.opt.Queue.BySession(st.session)
	if err != nil {
		return err
	}
	for _, o := range orders {
		if o.Waiting() {
			st.positions[o.ID] = [2]int{-1, -1}
		}
	}
	return nil
}

func (st *eventStream) refreshPositions(ctx context.Context) error {
	for id, sent := range st.positions {
		o, err := st.s.opt.Queue.Get(id)
		if err != nil {
			delete(st.positions, id)
			continue
		}
		if o.Status != queue.StatusQueued {
			delete(st.positions, id)
			continue
		}
		// The estimate drifts with the clock; the page counts it down itself,
		// so only a new place or a real change of estimate is worth a message.
		if sent[0] != o.QueuePosition || abs(sent[1]-o.EstimatedWaitSeconds) >= 30 {
			if err := st.sendOrder(ctx, st.last, o); err != nil {
				return err
			}
		}
	}
	return nil
}

func (st *eventStream) sendOrder(ctx context.Context, id uint64, o queue.Order) error {
	if o.Status == queue.StatusQueued {
		st.positions[o.ID] = [2]int{o.QueuePosition, o.EstimatedWaitSeconds}
	} else {
		delete(st.positions, o.ID)
	}
	return st.send(ctx, wireEvent{ID: id, Type: "orderUpdate", Data: toPublicOrder(o)})
}

func (st *eventStream) send(ctx context.Context, ev wireEvent) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return st.conn.Write(wctx, websocket.MessageText, b)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
