package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"casefleet/shared/machine"
)

// bucketSessions maps session id -> Session JSON.
var bucketSessions = []byte("session.sessions")

// Store keeps the sessions. It is safe for concurrent use.
type Store struct {
	db  *bbolt.DB
	opt Options
}

// Open prepares the sessions bucket in db and returns the store. It writes
// only when the bucket is missing.
func Open(db *bbolt.DB, opt Options) (*Store, error) {
	s := &Store{db: db, opt: opt.withDefaults()}
	exists := false
	if err := db.View(func(tx *bbolt.Tx) error {
		exists = tx.Bucket(bucketSessions) != nil
		return nil
	}); err != nil {
		return nil, fmt.Errorf("open sessions: %w", err)
	}
	if exists {
		return s, nil
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketSessions)
		return err
	}); err != nil {
		return nil, fmt.Errorf("open sessions: %w", err)
	}
	return s, nil
}

// Start resumes session resumeID when it exists, belongs to machineCode and
// has not expired, marking it seen; otherwise it starts a new session (an
// expired resumeID is deleted on the way). resumed tells which happened.
func (s *Store) Start(machineCode, resumeID string) (sess Session, resumed bool, err error) {
	if err := machine.ValidateCode(machineCode); err != nil {
		return Session{}, false, fmt.Errorf("start session: %w", err)
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		now := s.now()
		if ValidID(resumeID) {
			old, err := load(b, resumeID)
			switch {
			case err == nil && s.expired(old, now):
				if err := b.Delete([]byte(resumeID)); err != nil {
					return err
				}
			case err == nil && old.MachineCode == machineCode:
				old.LastSeen = now
				sess, resumed = old, true
				return put(b, old)
			}
			// Unknown, damaged or another machine's: start afresh and leave
			// it be.
		}
		sess = Session{
			SessionID:   NewID(),
			MachineCode: machineCode,
			StartTime:   now,
			LastSeen:    now,
			OrderStatus: StatusDesigning,
		}
		return put(b, sess)
	})
	if err != nil {
		return Session{}, false, fmt.Errorf("start session on %s: %w", machineCode, err)
	}
	return sess, resumed, nil
}

// Get returns a live session: ErrNotFound, or ErrExpired when it has been
// idle longer than IdleTimeout with no order in progress.
func (s *Store) Get(id string) (Session, error) {
	var sess Session
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		sess, err = s.live(tx.Bucket(bucketSessions), id)
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("get session %.40q: %w", id, err)
	}
	return sess, nil
}

// GetForMachine is Get for a request made to machineCode: a session of
// another machine is ErrWrongMachine.
func (s *Store) GetForMachine(machineCode, id string) (Session, error) {
	sess, err := s.Get(id)
	if err != nil {
		return Session{}, err
	}
	if sess.MachineCode != machineCode {
		return Session{}, fmt.Errorf("session %s on %.40q: %w", id, machineCode, ErrWrongMachine)
	}
	return sess, nil
}

// Touch marks a live session as seen now. Call it for each request the
// customer makes; an expired session stays expired (ErrExpired).
func (s *Store) Touch(id string) (Session, error) {
	sess, err := s.change(id, func(sess *Session) error {
		sess.LastSeen = s.now()
		return nil
	})
	if err != nil {
		return Session{}, fmt.Errorf("touch session %.40q: %w", id, err)
	}
	return sess, nil
}

// Update applies fn to a live session and stores the result; fn returning
// an error stores nothing. SessionID, MachineCode and StartTime are fixed
// (ErrInvalid); CurrentDesign must be JSON of at most MaxDesign bytes
// (ErrTooLarge); OrderStatus must be one of the Status constants. Update
// does not mark the session seen: status changes the agent makes on its own
// are not customer activity (use Touch for that).
func (s *Store) Update(id string, fn func(*Session) error) (Session, error) {
	sess, err := s.change(id, fn)
	if err != nil {
		return Session{}, fmt.Errorf("update session %.40q: %w", id, err)
	}
	return sess, nil
}

func (s *Store) change(id string, fn func(*Session) error) (Session, error) {
	var sess Session
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		old, err := s.live(b, id)
		if err != nil {
			return err
		}
		sess = old
		sess.CurrentDesign = append(json.RawMessage(nil), old.CurrentDesign...) // fn gets its own copy
		if err := fn(&sess); err != nil {
			return err
		}
		if sess.SessionID != old.SessionID || sess.MachineCode != old.MachineCode || !sess.StartTime.Equal(old.StartTime) {
			return fmt.Errorf("%w: id, machine and start time are fixed", ErrInvalid)
		}
		if err := sess.validate(s.opt.MaxDesign); err != nil {
			return err
		}
		return put(b, sess)
	})
	return sess, err
}

// Sweep deletes expired sessions, and any record that no longer decodes,
// returning how many it deleted. Run it now and then (say every few
// minutes); until then expired sessions are refused but still stored.
func (s *Store) Sweep() (int, error) {
	n := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		now := s.now()
		var dead [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			sess, err := decode(v)
			if err != nil || string(k) != sess.SessionID || s.expired(sess, now) {
				dead = append(dead, k)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(dead)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sweep sessions: %w", err)
	}
	return n, nil
}

// live loads a session that exists and has not expired.
func (s *Store) live(b *bbolt.Bucket, id string) (Session, error) {
	sess, err := load(b, id)
	if err != nil {
		return Session{}, err
	}
	if s.expired(sess, s.now()) {
		return Session{}, ErrExpired
	}
	return sess, nil
}

// expired: idle too long, and no order in progress to wait for.
func (s *Store) expired(sess Session, now time.Time) bool {
	return now.Sub(sess.LastSeen) > s.opt.IdleTimeout && !sess.orderInProgress()
}

func (s *Store) now() time.Time { return s.opt.Now().UTC() }

func load(b *bbolt.Bucket, id string) (Session, error) {
	if !ValidID(id) {
		return Session{}, ErrNotFound
	}
	raw := b.Get([]byte(id))
	if raw == nil {
		return Session{}, ErrNotFound
	}
	sess, err := decode(raw)
	if err != nil {
		return Session{}, err
	}
	if sess.SessionID != id {
		return Session{}, errors.New("stored session has another id")
	}
	return sess, nil
}

func put(b *bbolt.Bucket, sess Session) error {
	v, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	return b.Put([]byte(sess.SessionID), v)
}
