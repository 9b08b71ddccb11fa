package session

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzDesign: whatever a phone sends as its design is either refused or
// stored and read back as the same JSON value.
func FuzzDesign(f *testing.F) {
	for _, s := range []string{`{"scale":1.2,"rotation":-90,"flip":true}`, `null`, `{"a":`, `"<script>&"`, "\xff", `[1e999]`, ``} {
		f.Add([]byte(s))
	}
	s, _ := newStore(f)
	sess, _ := start(f, s, kiosk, "")
	f.Fuzz(func(t *testing.T, design []byte) {
		_, err := s.Update(sess.SessionID, func(x *Session) error { x.CurrentDesign = design; return nil })
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		got, err := s.Get(sess.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		if len(design) == 0 {
			if len(got.CurrentDesign) != 0 {
				t.Fatalf("empty design read back as %q", got.CurrentDesign)
			}
			return
		}
		var want, have any
		if err := json.Unmarshal(design, &want); err != nil {
			t.Skip("not representable as a Go value")
		}
		if err := json.Unmarshal(got.CurrentDesign, &have); err != nil || !reflect.DeepEqual(want, have) {
			t.Fatalf("design %q read back as %q (%v)", design, got.CurrentDesign, err)
		}
	})
}

// FuzzDecode: a stored record either decodes to a session with a valid id
// or is rejected; never a panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"sessionId":"AAAAAAAAAAAAAAAAAAAAAAAAAA","machineCode":"CT0700026","orderStatus":"designing"}`))
	f.Add([]byte(`{"sessionId":"x"}`))
	f.Add([]byte(`{"currentDesign":{"a":[1,2]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sess, err := decode(b)
		if err != nil {
			return
		}
		if !ValidID(sess.SessionID) {
			t.Fatalf("decoded a session with id %q", sess.SessionID)
		}
		if _, err := json.Marshal(sess); err != nil {
			t.Fatalf("decoded session does not encode: %v", err)
		}
	})
}
