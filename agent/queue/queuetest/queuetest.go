// Package queuetest gives tests of the parts around the queue (metrics,
// dashboard, push) a real queue on a fresh bbolt file, closed when the
// test ends.
package queuetest

import (
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"

	"casefleet/agent/queue"
)

// New opens a queue with default options on a new bbolt file in t's
// temporary directory; the db is returned for parts that share it.
func New(t testing.TB) (*queue.Queue, *bbolt.DB) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "agent.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	q, err := queue.Open(db, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return q, db
}
