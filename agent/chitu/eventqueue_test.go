package chitu

import (
	"log/slog"
	"testing"

	"casefleet/agent/chitu/protocol"
)

func orderEvent(id string) Event {
	return Event{Msg: protocol.Event{MsgType: protocol.MsgOrderStatus,
		OrderStatus: &protocol.OrderStatus{OrderID: protocol.Text(id), Status: protocol.OrderPaid}}}
}

func TestEventQueueKeepsOrder(t *testing.T) {
	q := newEventQueue(slog.New(slog.DiscardHandler))
	for _, id := range []string{"1", "2", "3"} {
		q.push(orderEvent(id))
	}
	for _, want := range []string{"1", "2", "3"} {
		ev, ok := q.pop()
		if !ok || ev.Msg.OrderStatus.OrderID.String() != want {
			t.Fatalf("popped %+v, %v; want order %s", ev, ok, want)
		}
	}
	if _, ok := q.pop(); ok {
		t.Fatal("empty queue popped an event")
	}
}

func TestEventQueueOverflowOwesAResync(t *testing.T) {
	q := newEventQueue(slog.New(slog.DiscardHandler))
	const extra = 5
	for i := range maxQueuedEvents + extra {
		q.push(orderEvent(string(rune('a' + i%26))))
	}
	n := 0
	var last Event
	for {
		ev, ok := q.pop()
		if !ok {
			break
		}
		n++
		last = ev
	}
	if n != maxQueuedEvents+1 {
		t.Fatalf("popped %d events, want the %d newest and a Resync", n, maxQueuedEvents)
	}
	if !last.Resync {
		t.Fatal("events were dropped but no Resync followed")
	}
	q.push(orderEvent("z"))
	if ev, _ := q.pop(); ev.Resync {
		t.Fatal("Resync owed twice")
	}
}

func TestEventQueueIgnoresPushesAfterClose(t *testing.T) {
	q := newEventQueue(slog.New(slog.DiscardHandler))
	q.push(orderEvent("1"))
	q.close()
	q.push(orderEvent("2"))
	if ev, ok := q.pop(); ok {
		t.Fatalf("closed queue popped %+v", ev)
	}
}
