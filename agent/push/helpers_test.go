package push

import (
	"context"
	"testing"

	"go.etcd.io/bbolt"

	"casefleet/agent/queue"
	"casefleet/agent/queue/queuetest"
	"casefleet/agent/session"
)

// parts are a push Service on a store of its own, for tests that need no
// printer.
type parts struct {
	db       *bbolt.DB
	queue    *queue.Queue
	sessions *session.Store
	svc      *Service
}

func newParts(t testing.TB, tune func(*Options)) *parts {
	t.Helper()
	q, db := queuetest.New(t)
	sessions, err := session.Open(db, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{DB: db, Queue: q, Sessions: sessions, MachineCode: "CT0700026", MachineName: "Mall 3F", AllowedHosts: []string{"127.0.0.1"}}
	if tune != nil {
		tune(&opt)
	}
	svc, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return &parts{db: db, queue: q, sessions: sessions, svc: svc}
}

// run runs the service's notifier until the test ends.
func (p *parts) run(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
