package queue

import (
	"fmt"

	"go.etcd.io/bbolt"
)

// Operator settings of the line, kept with the orders so they outlive a
// restart: an operator who paused the queue to refill ink does not want a
// crash or an upgrade to start printing again behind their back.
var (
	bucketSettings = []byte("queue.settings") // setting name -> value
	settingPaused  = []byte("paused")         // "1" while handing orders to the machine is paused
)

// SetPaused records whether handing new orders to the machine is paused.
func (q *Queue) SetPaused(paused bool) error {
	v := []byte("0")
	if paused {
		v = []byte("1")
	}
	err := q.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSettings).Put(settingPaused, v)
	})
	if err != nil {
		return fmt.Errorf("record the queue paused=%v: %w", paused, err)
	}
	return nil
}

// Paused reports whether handing new orders to the machine is paused.
func (q *Queue) Paused() (bool, error) {
	var paused bool
	err := q.db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketSettings); b != nil { // nil: a store from before settings, never paused
			paused = string(b.Get(settingPaused)) == "1"
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("read whether the queue is paused: %w", err)
	}
	return paused, nil
}
