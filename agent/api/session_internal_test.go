package api

import (
	"log/slog"
	"testing"

	"casefleet/agent/queue"
	"casefleet/agent/queue/queuetest"
	"casefleet/agent/session"
)

// The agent stopped between committing an order and noting it in the
// session (kill -9, power cut): the order and its session index entry are
// one transaction, so a resume still names the order. (It answered
// "designing" with no order, and the page invited a second order.)
func TestAResumeNamesAnOrderTheSessionNeverNoted(t *testing.T) {
	q, db := queuetest.New(t)
	sessions, err := session.Open(db, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := sessions.Start("CT0700026", "")
	if err != nil {
		t.Fatal(err)
	}
	o, err := q.Enqueue(queue.Order{SessionID: sess.SessionID, MachineCode: "CT0700026", ProductID: "101"})
	if err != nil {
		t.Fatal(err)
	}
	// No sessions.Update: the crash came first.
	s := &Server{opt: Options{Queue: q, Sessions: sessions}, log: slog.New(slog.DiscardHandler)}
	resumed, _, err := sessions.Start("CT0700026", sess.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	got := s.publicSession(resumed, true)
	if got.OrderID != o.ID || got.OrderStatus != session.StatusProcessing {
		t.Fatalf("resume answered order %q, %q; want %s, %s", got.OrderID, got.OrderStatus, o.ID, session.StatusProcessing)
	}
}
