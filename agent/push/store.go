package push

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// Buckets of the agent's bbolt file that this package owns.
var (
	bucketMeta          = []byte("push")               // VAPID key, event cursor
	bucketSubscriptions = []byte("push_subscriptions") // session id -> record
	keyVAPID            = []byte("vapid_private_key")
	keyCursor           = []byte("event_cursor")
)

// maxNotified bounds the notices remembered per subscription.
const maxNotified = 16

// errFull: the subscription cap is reached.
var errFull = errors.New("too many push subscriptions")

// record is a stored subscription.
type record struct {
	SessionID string    `json:"sessionId"`
	Endpoint  string    `json:"endpoint"`
	P256DH    []byte    `json:"p256dh"`
	Auth      []byte    `json:"auth"`
	Lang      string    `json:"lang"`
	Created   time.Time `json:"created"`
	// Notified lists the notices sent ("order/kind"), newest last, so
	// that none is sent twice.
	Notified []string `json:"notified,omitempty"`
}

// store keeps subscriptions, the VAPID key and the event cursor.
type store struct {
	db  *bbolt.DB
	max int
}

func openStore(db *bbolt.DB, max int) (*store, error) {
	err := db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketSubscriptions} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open push store: %w", err)
	}
	return &store{db: db, max: max}, nil
}

// vapidKey returns the stored key, generating and storing one the first
// time: the key must not change, or every subscription stops working.
func (s *store) vapidKey() (*vapidKey, error) {
	var k *vapidKey
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if raw := b.Get(keyVAPID); raw != nil {
			var err error
			k, err = parseVAPIDKey(raw)
			return err
		}
		var err error
		if k, err = newVAPIDKey(); err != nil {
			return err
		}
		raw, err := k.raw()
		if err != nil {
			return err
		}
		return b.Put(keyVAPID, raw)
	})
	if err != nil {
		return nil, fmt.Errorf("VAPID key: %w", err)
	}
	return k, nil
}

// put stores rec as its session's subscription, replacing an older one.
func (s *store) put(rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketSubscriptions)
		if bucket.Get([]byte(rec.SessionID)) == nil && bucket.Stats().KeyN >= s.max {
			return errFull
		}
		return bucket.Put([]byte(rec.SessionID), b)
	})
}

// get returns the session's subscription; ok is false when it has none.
func (s *store) get(sessionID string) (rec record, ok bool, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketSubscriptions).Get([]byte(sessionID))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &rec)
	})
	return rec, ok, err
}

// delete removes the session's subscription. With endpoint set, only if it
// still is that one (the customer may have subscribed again meanwhile).
func (s *store) delete(sessionID, endpoint string) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSubscriptions)
		v := b.Get([]byte(sessionID))
		if v == nil {
			return nil
		}
		if endpoint != "" {
			var rec record
			if err := json.Unmarshal(v, &rec); err == nil && rec.Endpoint != endpoint {
				return nil
			}
		}
		return b.Delete([]byte(sessionID))
	})
}

// claim marks notice as sent to the session's subscriber and returns the
// subscription; ok is false when there is no subscription or the notice
// was already claimed.
func (s *store) claim(sessionID, notice string) (rec record, ok bool, err error) {
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSubscriptions)
		v := b.Get([]byte(sessionID))
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return b.Delete([]byte(sessionID)) // damaged: of no use
		}
		for _, n := range rec.Notified {
			if n == notice {
				return nil
			}
		}
		rec.Notified = append(rec.Notified, notice)
		if len(rec.Notified) > maxNotified {
			rec.Notified = rec.Notified[len(rec.Notified)-maxNotified:]
		}
		nb, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		ok = true
		return b.Put([]byte(sessionID), nb)
	})
	return rec, ok, err
}

// sessions lists the sessions that have a subscription.
func (s *store) sessions() ([]string, error) {
	var ids []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSubscriptions).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		})
	})
	return ids, err
}

// cursor is the id of the last queue event handled; ok is false before
// the first.
func (s *store) cursor() (id uint64, ok bool, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyCursor); len(v) == 8 {
			id, ok = binary.BigEndian.Uint64(v), true
		}
		return nil
	})
	return id, ok, err
}

func (s *store) setCursor(id uint64) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyCursor, binary.BigEndian.AppendUint64(nil, id))
	})
}
