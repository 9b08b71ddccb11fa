package push

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"sync"
	"time"

	"casefleet/agent/queue"
	"casefleet/agent/session"
)

// ttlOf is how long a kind of notice is worth delivering (the TTL header,
// and the age past which a backlog is not sent at all): a call to pay is
// stale once the payment window has passed; a ready case waits hours.
func ttlOf(kind string) time.Duration {
	switch kind {
	case KindPay:
		return 5 * time.Minute
	case KindReady:
		return 6 * time.Hour
	}
	return time.Hour
}

const (
	eventBatch    = 200
	sendBacklog   = 256 // notices waiting for the sender
	sweepInterval = 10 * time.Minute
)

// notice is one message for one subscriber.
type notice struct {
	rec   record
	kind  string
	order queue.Order
	at    time.Time // when the event happened
}

// kindOf says which notice, if any, an order in this state deserves.
func kindOf(o queue.Order) string {
	switch {
	case o.Status == queue.StatusComplete:
		return KindReady
	case o.Status == queue.StatusFailed:
		return KindFailed
	case o.Stage == queue.StageAwaitingPayment:
		return KindPay
	}
	return ""
}

// Run follows the queue's events and sends the notices they call for,
// until ctx is done. It resumes after the last event it handled before a
// restart, so a notice due while the agent was down is still sent (while
// it is worth sending). Notices go out one at a time, in order, so a
// phone never shows "pay now" after "ready".
func (s *Service) Run(ctx context.Context) error {
	changes, stop := s.opt.Queue.Subscribe()
	defer stop()
	cursor, err := s.startCursor()
	if err != nil {
		return err
	}

	work := make(chan notice, sendBacklog)
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := range work {
			s.deliver(ctx, n)
		}
	})
	defer func() {
		close(work)
		wg.Wait()
	}()

	sweep := time.NewTicker(sweepInterval)
	defer sweep.Stop()
	cursor = s.follow(ctx, cursor, work)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changes:
			cursor = s.follow(ctx, cursor, work)
		case <-sweep.C:
			s.sweep()
		}
	}
}

// startCursor is where to resume: the stored cursor, or the newest event
// the first time (history is not worth notifying about) and when the
// stored one is from another store.
func (s *Service) startCursor() (uint64, error) {
	newest, err := s.opt.Queue.LastEventID()
	if err != nil {
		return 0, err
	}
	cursor, ok, err := s.store.cursor()
	if err != nil {
		return 0, err
	}
	if !ok || cursor > newest {
		return newest, s.store.setCursor(newest)
	}
	return cursor, nil
}

// follow hands the notices of the events after cursor to the sender and
// returns the new cursor.
func (s *Service) follow(ctx context.Context, cursor uint64, work chan<- notice) uint64 {
	for ctx.Err() == nil {
		evs, err := s.opt.Queue.EventsAfter(cursor, eventBatch)
		if err != nil {
			s.log.Warn("read events", "err", err)
			return cursor
		}
		for _, ev := range evs {
			cursor = ev.ID
			if n, ok := s.noticeFor(ev); ok {
				select {
				case work <- n:
				default:
					s.log.Warn("push backlog full; notice dropped", "session", ev.SessionID, "order", ev.OrderID, "kind", n.kind)
				}
			}
		}
		if len(evs) > 0 {
			if err := s.store.setCursor(cursor); err != nil {
				s.log.Warn("save push cursor", "err", err)
			}
		}
		if len(evs) < eventBatch {
			break
		}
	}
	return cursor
}

// noticeFor decides whether ev calls for a notice to a subscriber, and
// claims it so that it is sent once.
func (s *Service) noticeFor(ev queue.Event) (notice, bool) {
	if ev.Type != queue.EventOrderUpdate || ev.SessionID == "" {
		return notice{}, false
	}
	var o queue.Order
	if err := json.Unmarshal(ev.Data, &o); err != nil {
		s.log.Warn("decode order event", "order", ev.OrderID, "err", err)
		return notice{}, false
	}
	kind := kindOf(o)
	if kind == "" || s.opt.Now().Sub(ev.Time) > ttlOf(kind) {
		return notice{}, false
	}
	rec, ok, err := s.store.claim(ev.SessionID, o.ID+"/"+kind)
	if err != nil {
		s.log.Warn("claim push notice", "session", ev.SessionID, "order", o.ID, "err", err)
		return notice{}, false
	}
	if !ok {
		return notice{}, false // no subscription, or already sent
	}
	return notice{rec: rec, kind: kind, order: o, at: ev.Time}, true
}

// payload is what the web app's service worker receives and shows.
type payload struct {
	Title      string `json:"title"`
	Body       string `json:"body"`
	Kind       string `json:"kind"`
	OrderID    string `json:"orderId"`
	PickupCode string `json:"pickupCode,omitempty"`
	Lang       string `json:"lang"`
	Dir        string `json:"dir"`
	Tag        string `json:"tag"` // one notification per order: a newer notice replaces an older one
	URL        string `json:"url"` // opened when the notification is tapped
}

func (s *Service) payload(n notice) payload {
	lang := language(n.rec.Lang)
	t := messages(lang, n.kind, s.opt.MachineName, n.order.PickupCode)
	dir := "ltr"
	if lang == "ar" {
		dir = "rtl"
	}
	return payload{
		Title: t.title, Body: t.body, Kind: n.kind, OrderID: n.order.ID, PickupCode: n.order.PickupCode,
		Lang: lang, Dir: dir, Tag: "order-" + n.order.ID,
		URL: "/editor?machine=" + url.QueryEscape(s.opt.MachineCode),
	}
}

// sweep drops the subscriptions of sessions that have ended.
func (s *Service) sweep() {
	ids, err := s.store.sessions()
	if err != nil {
		s.log.Warn("list push subscriptions", "err", err)
		return
	}
	for _, id := range ids {
		_, err := s.opt.Sessions.Get(id)
		if errors.Is(err, session.ErrNotFound) || errors.Is(err, session.ErrExpired) {
			if err := s.store.delete(id, ""); err != nil {
				s.log.Warn("drop push subscription", "session", id, "err", err)
			}
		}
	}
}
