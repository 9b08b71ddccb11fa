package session

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"casefleet/shared/machine"
	"casefleet/shared/testenv"
)

const (
	kiosk = "CT0700026"
	other = "CT0700027"
)

func openDB(t testing.TB, path string) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newStore(t testing.TB) (*Store, *testenv.Clock) {
	t.Helper()
	clk := testenv.NewClock(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	s, err := Open(openDB(t, filepath.Join(t.TempDir(), "agent.db")), Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, clk
}

func start(t testing.TB, s *Store, code, resume string) (Session, bool) {
	t.Helper()
	sess, resumed, err := s.Start(code, resume)
	if err != nil {
		t.Fatalf("Start(%s, %q): %v", code, resume, err)
	}
	return sess, resumed
}

func TestStartAndResume(t *testing.T) {
	s, clk := newStore(t)
	first, resumed := start(t, s, kiosk, "")
	if resumed || !ValidID(first.SessionID) || first.MachineCode != kiosk || first.OrderStatus != StatusDesigning || first.StartTime.IsZero() {
		t.Fatalf("new session = %+v, resumed %v", first, resumed)
	}

	clk.Advance(10 * time.Minute)
	again, resumed := start(t, s, kiosk, first.SessionID)
	if !resumed || again.SessionID != first.SessionID || !again.LastSeen.Equal(clk.Now()) || !again.StartTime.Equal(first.StartTime) {
		t.Errorf("resumed session = %+v, resumed %v", again, resumed)
	}

	tests := []struct{ name, code, resume string }{
		{"unknown id", kiosk, NewID()},
		{"malformed id", kiosk, "../" + first.SessionID},
		{"huge id", kiosk, strings.Repeat("A", 1<<20)},
		{"another machine's session", other, first.SessionID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess, resumed := start(t, s, tt.code, tt.resume)
			if resumed || sess.SessionID == first.SessionID || sess.MachineCode != tt.code {
				t.Errorf("got %+v, resumed %v; want a new session on %s", sess, resumed, tt.code)
			}
		})
	}
	// The other machine's attempt left the session where it was.
	if _, err := s.GetForMachine(kiosk, first.SessionID); err != nil {
		t.Errorf("session after another machine tried to resume it: %v", err)
	}
}

func TestStartValidatesMachineCode(t *testing.T) {
	s, _ := newStore(t)
	for _, code := range []string{"", "ct0700026", "CT07", strings.Repeat("C", 100), "CT0700026\x00"} {
		if _, _, err := s.Start(code, ""); !errors.Is(err, machine.ErrInvalidCode) {
			t.Errorf("Start(%.20q): err = %v, want ErrInvalidCode", code, err)
		}
	}
}

func TestGetForMachine(t *testing.T) {
	s, _ := newStore(t)
	sess, _ := start(t, s, kiosk, "")
	if _, err := s.GetForMachine(other, sess.SessionID); !errors.Is(err, ErrWrongMachine) {
		t.Errorf("err = %v, want ErrWrongMachine", err)
	}
	if _, err := s.GetForMachine(kiosk, NewID()); !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}

func TestIdleExpiry(t *testing.T) {
	tests := []struct {
		name        string
		orderStatus string
		idle        time.Duration
		wantExpired bool
	}{
		{"designing, just under the timeout", StatusDesigning, 30 * time.Minute, false},
		{"designing, idle past the timeout", StatusDesigning, 31 * time.Minute, true},
		{"complete, idle past the timeout", StatusComplete, 31 * time.Minute, true},
		{"order in line never expires", StatusProcessing, 24 * time.Hour, false},
		{"order printing never expires", StatusPrinting, 24 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newStore(t)
			sess, _ := start(t, s, kiosk, "")
			if _, err := s.Update(sess.SessionID, func(x *Session) error { x.OrderStatus = tt.orderStatus; return nil }); err != nil {
				t.Fatal(err)
			}
			clk.Advance(tt.idle)

			_, err := s.Get(sess.SessionID)
			if got := errors.Is(err, ErrExpired); got != tt.wantExpired {
				t.Fatalf("Get: err = %v, want expired %v", err, tt.wantExpired)
			}
			if !tt.wantExpired {
				return
			}
			if _, err := s.Touch(sess.SessionID); !errors.Is(err, ErrExpired) {
				t.Errorf("Touch revived an expired session: %v", err)
			}
			if _, err := s.Update(sess.SessionID, func(*Session) error { return nil }); !errors.Is(err, ErrExpired) {
				t.Errorf("Update on an expired session: %v", err)
			}
			again, resumed := start(t, s, kiosk, sess.SessionID)
			if resumed || again.SessionID == sess.SessionID {
				t.Error("an expired session was resumed")
			}
			if _, err := s.Get(sess.SessionID); !errors.Is(err, ErrNotFound) {
				t.Errorf("expired session not deleted when its phone came back: %v", err)
			}
		})
	}
}

func TestTouchKeepsASessionAlive(t *testing.T) {
	s, clk := newStore(t)
	sess, _ := start(t, s, kiosk, "")
	for range 5 {
		clk.Advance(20 * time.Minute)
		if _, err := s.Touch(sess.SessionID); err != nil {
			t.Fatalf("Touch after 20 idle minutes: %v", err)
		}
	}
	if _, err := s.Get(sess.SessionID); err != nil {
		t.Errorf("session seen every 20 minutes: %v", err)
	}
}

func TestUpdate(t *testing.T) {
	s, _ := newStore(t)
	sess, _ := start(t, s, kiosk, "")
	design := json.RawMessage(`{"productId":"p1","placement":{"scale":1.5,"rotation":90}}`)
	got, err := s.Update(sess.SessionID, func(x *Session) error {
		x.CurrentDesign = design
		x.OrderStatus = StatusProcessing
		x.OrderID = "ORDER1"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Get(sess.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if string(stored.CurrentDesign) != string(design) || stored.OrderStatus != StatusProcessing || stored.OrderID != "ORDER1" || !stored.LastSeen.Equal(got.LastSeen) {
		t.Errorf("stored %+v", stored)
	}

	tests := []struct {
		name   string
		change func(*Session) error
		want   error
	}{
		{"design too large", func(x *Session) error {
			x.CurrentDesign = json.RawMessage(`"` + strings.Repeat("x", 16<<10) + `"`)
			return nil
		}, ErrTooLarge},
		{"design not JSON", func(x *Session) error { x.CurrentDesign = json.RawMessage(`{"a":`); return nil }, ErrInvalid},
		{"unknown order status", func(x *Session) error { x.OrderStatus = "teleported"; return nil }, ErrInvalid},
		{"other id", func(x *Session) error { x.SessionID = NewID(); return nil }, ErrInvalid},
		{"other machine", func(x *Session) error { x.MachineCode = other; return nil }, ErrInvalid},
		{"huge order id", func(x *Session) error { x.OrderID = strings.Repeat("o", 1000); return nil }, ErrInvalid},
		{"fn refuses", func(x *Session) error { x.OrderStatus = StatusComplete; return ErrWrongMachine }, ErrWrongMachine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Update(sess.SessionID, tt.change); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			after, _ := s.Get(sess.SessionID)
			if string(after.CurrentDesign) != string(design) || after.OrderStatus != StatusProcessing {
				t.Errorf("a refused update was stored: %+v", after)
			}
		})
	}
	if _, err := s.Update(NewID(), func(*Session) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of an unknown session: %v", err)
	}
}

func TestSweep(t *testing.T) {
	s, clk := newStore(t)
	idle, _ := start(t, s, kiosk, "")
	waiting, _ := start(t, s, kiosk, "")
	if _, err := s.Update(waiting.SessionID, func(x *Session) error { x.OrderStatus = StatusProcessing; return nil }); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	fresh, _ := start(t, s, kiosk, "")

	n, err := s.Sweep()
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("Sweep deleted %d, want 1", n)
	}
	if _, err := s.Get(idle.SessionID); !errors.Is(err, ErrNotFound) {
		t.Errorf("idle session after Sweep: %v", err)
	}
	for _, id := range []string{waiting.SessionID, fresh.SessionID} {
		if _, err := s.Get(id); err != nil {
			t.Errorf("session %s after Sweep: %v", id, err)
		}
	}
	if n, _ := s.Sweep(); n != 0 {
		t.Errorf("second Sweep deleted %d", n)
	}
}

func TestSweepDeletesDamagedRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.db")
	db := openDB(t, path)
	s, err := Open(db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	keep, _ := start(t, s, kiosk, "")
	if err := db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		return errors.Join(
			b.Put([]byte(NewID()), []byte("{not json")),
			b.Put([]byte(NewID()), []byte(`{"sessionId":"`+keep.SessionID+`"}`)),
		)
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Sweep(); err != nil || n != 2 {
		t.Errorf("Sweep = %d, %v; want the 2 damaged records", n, err)
	}
	if _, err := s.Get(keep.SessionID); err != nil {
		t.Errorf("good session after Sweep: %v", err)
	}
}

func TestSessionsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := start(t, s, kiosk, "")
	if _, err := s.Update(sess.SessionID, func(x *Session) error { x.CurrentDesign = json.RawMessage(`{"a":1}`); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(openDB(t, path), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, resumed := start(t, s, kiosk, sess.SessionID)
	if !resumed || string(got.CurrentDesign) != `{"a":1}` {
		t.Errorf("after reopen: %+v, resumed %v", got, resumed)
	}
}
