package summary

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func good() Summary {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	return Summary{
		Code: "CT0700026", Name: "Mall 3F", Location: "mall-3f", Version: "1.4.0", Status: "printing",
		QueueLength: 3, QueueCapacity: 20, WaitSeconds: 900,
		Ink:            Ink{Cyan: "ok", Magenta: "low", Yellow: "ok", Black: "unknown"},
		Current:        &Order{ID: "QPOT43Z6", Stage: "printing", PickupCode: "0001"},
		Failures:       2,
		FailureReasons: []Reason{{Reason: "The printer ran out of ink", Count: 2}},
		LastContact:    &at, At: at,
	}
}

// What an agent says comes back the same, with the low colours derived
// from the levels (not believed from the agent).
func TestParseRoundTrip(t *testing.T) {
	in := good()
	in.InkLow = []string{"black"} // wrong on purpose
	b, _ := json.Marshal(in)
	got, err := Parse(b, "CT0700026")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.InkLow) != 1 || got.InkLow[0] != "magenta" {
		t.Errorf("ink low = %v, want [magenta]", got.InkLow)
	}
	if got.Name != in.Name || got.Current.PickupCode != "0001" || got.Failures != 2 || !got.LastContact.Equal(*in.LastContact) {
		t.Errorf("parsed %+v", got)
	}
}

// Malformed, oversized and hostile summaries are refused or made safe.
func TestParseHostile(t *testing.T) {
	mut := func(f func(*Summary)) []byte {
		s := good()
		f(&s)
		b, _ := json.Marshal(s)
		return b
	}
	for name, tc := range map[string]struct {
		body []byte
		want string // "" = refused
		ok   func(Summary) bool
	}{
		"not JSON":         {body: []byte("<html>")},
		"oversized":        {body: []byte(`{"code":"CT0700026","name":"` + strings.Repeat("x", MaxBytes) + `"}`)},
		"bad code":         {body: mut(func(s *Summary) { s.Code = "../etc" })},
		"another machine":  {body: mut(func(s *Summary) { s.Code = "CT0700027" })},
		"an unknown state": {body: mut(func(s *Summary) { s.Status = "<script>" }), want: "ok", ok: func(s Summary) bool { return s.Status == "error" }},
		"an unknown level": {body: mut(func(s *Summary) { s.Ink.Cyan = "full" }), want: "ok", ok: func(s Summary) bool { return s.Ink.Cyan == "unknown" }},
		"control characters": {body: mut(func(s *Summary) { s.Name = "a\x00b\nc\u202e" }), want: "ok", ok: func(s Summary) bool {
			return !strings.ContainsAny(s.Name, "\x00\n\u202e")
		}},
		"long text": {body: mut(func(s *Summary) { s.LastError = strings.Repeat("é", 400) }), want: "ok", ok: func(s Summary) bool {
			return len(s.LastError) <= MaxText && strings.HasSuffix(s.LastError, "é")
		}},
		"negative counts": {body: mut(func(s *Summary) { s.QueueLength, s.Failures = -5, -1 }), want: "ok", ok: func(s Summary) bool {
			return s.QueueLength == 0 && s.Failures == 0
		}},
		"too many reasons": {body: mut(func(s *Summary) { s.FailureReasons = make([]Reason, 50) }), want: "ok", ok: func(s Summary) bool {
			return len(s.FailureReasons) == MaxReasons
		}},
	} {
		got, err := Parse(tc.body, "CT0700026")
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: accepted as %+v", name, got)
			}
			continue
		}
		if err != nil || !tc.ok(got) {
			t.Errorf("%s: %+v, %v", name, got, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	b, _ := json.Marshal(good())
	f.Add(b)
	f.Add([]byte(`{"code":"CT0700026","failureReasons":[{"reason":"\u0000","count":-1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b, "")
		if err != nil {
			return
		}
		for _, text := range []string{s.Name, s.Location, s.Version, s.LastError} {
			if len(text) > MaxText || strings.ContainsAny(text, "\x00\n\r") {
				t.Fatalf("unsafe text %q", text)
			}
		}
		if len(s.FailureReasons) > MaxReasons || s.QueueLength < 0 {
			t.Fatalf("unbounded: %+v", s)
		}
	})
}
