// Package summary is what a kiosk agent tells the relay about itself for
// the fleet owner's page: one small JSON document, asked for by the relay
// through the agent's tunnel at Path (never reachable from a phone: the
// relay forwards only the customer's paths). Both ends use this type; the
// relay parses it with Parse, which bounds and checks what an agent may
// say.
package summary

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"casefleet/shared/machine"
)

// Path is where the agent answers, on its tunnel only.
const Path = "/relay/v1/summary"

// MaxBytes bounds a summary on the wire.
const MaxBytes = 32 << 10

// MaxReasons bounds Summary.FailureReasons; MaxText any text field.
const (
	MaxReasons = 10
	MaxText    = 256
)

// FailureWindow is the span Failures counts.
const FailureWindow = 24 * time.Hour

// Summary is one kiosk, as its agent sees it now.
type Summary struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Location string `json:"location"`
	Version  string `json:"version"` // the agent's
	// Status is the printer's: online, offline, printing or error.
	Status        string `json:"status"`
	Paused        bool   `json:"paused"`
	QueueLength   int    `json:"queueLength"`
	QueueCapacity int    `json:"queueCapacity"`
	Full          bool   `json:"full"`
	WaitSeconds   int    `json:"estimatedWaitSeconds"`
	// Ink is each colour's level word: ok, low or unknown.
	Ink     Ink      `json:"ink"`
	InkLow  []string `json:"inkLow,omitempty"` // the colours that are low
	Current *Order   `json:"currentOrder,omitempty"`
	// Failures counts the orders that failed in the last FailureWindow;
	// FailureReasons says why, most frequent first.
	Failures       int        `json:"failures24h"`
	FailureReasons []Reason   `json:"failureReasons,omitempty"`
	LastContact    *time.Time `json:"lastContact,omitempty"` // the printer's last word
	LastError      string     `json:"lastError,omitempty"`
	At             time.Time  `json:"at"` // when the agent made it
}

// Ink levels by colour.
type Ink struct {
	Cyan    string `json:"cyan"`
	Magenta string `json:"magenta"`
	Yellow  string `json:"yellow"`
	Black   string `json:"black"`
}

// Order is the order at the printer.
type Order struct {
	ID         string     `json:"id"`
	Stage      string     `json:"stage"`
	PickupCode string     `json:"pickupCode,omitempty"`
	Since      *time.Time `json:"since,omitempty"` // sent to the printer
}

// Reason is one failure reason and how many orders it failed.
type Reason struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// statuses the relay understands; anything else is read as "error".
var statuses = map[string]bool{"online": true, "offline": true, "printing": true, "error": true}

var levels = map[string]bool{"ok": true, "low": true, "unknown": true}

// Parse decodes and checks a summary from an agent: b must be at most
// MaxBytes, for machine code want, with bounded text and counts. Unknown
// words are brought back to safe ones rather than refused, so that a newer
// agent still shows.
func Parse(b []byte, want string) (Summary, error) {
	if len(b) > MaxBytes {
		return Summary{}, fmt.Errorf("summary: %d bytes, at most %d", len(b), MaxBytes)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return Summary{}, fmt.Errorf("summary: %w", err)
	}
	if err := machine.ValidateCode(s.Code); err != nil {
		return Summary{}, fmt.Errorf("summary: %w", err)
	}
	if want != "" && s.Code != want {
		return Summary{}, fmt.Errorf("summary: for %s, asked %s", s.Code, want)
	}
	for _, f := range []*string{&s.Name, &s.Location, &s.Version, &s.LastError} {
		*f = Clean(*f)
	}
	if !statuses[s.Status] {
		s.Status = "error"
	}
	for _, l := range []*string{&s.Ink.Cyan, &s.Ink.Magenta, &s.Ink.Yellow, &s.Ink.Black} {
		if !levels[*l] {
			*l = "unknown"
		}
	}
	s.InkLow = s.InkLow[:0]
	for _, c := range []struct{ name, level string }{{"cyan", s.Ink.Cyan}, {"magenta", s.Ink.Magenta}, {"yellow", s.Ink.Yellow}, {"black", s.Ink.Black}} {
		if c.level == "low" {
			s.InkLow = append(s.InkLow, c.name)
		}
	}
	if len(s.InkLow) == 0 {
		s.InkLow = nil
	}
	s.QueueLength = clamp(s.QueueLength, 1<<20)
	s.QueueCapacity = clamp(s.QueueCapacity, 1<<20)
	s.WaitSeconds = clamp(s.WaitSeconds, 1<<30)
	s.Failures = clamp(s.Failures, 1<<30)
	if len(s.FailureReasons) > MaxReasons {
		s.FailureReasons = s.FailureReasons[:MaxReasons]
	}
	for i := range s.FailureReasons {
		s.FailureReasons[i].Reason = Clean(s.FailureReasons[i].Reason)
		s.FailureReasons[i].Count = clamp(s.FailureReasons[i].Count, 1<<30)
	}
	if s.Current != nil {
		s.Current.ID, s.Current.Stage, s.Current.PickupCode = Clean(s.Current.ID), Clean(s.Current.Stage), Clean(s.Current.PickupCode)
	}
	return s, nil
}

// Clean makes text from an agent safe to keep and show: valid UTF-8, no
// control characters nor bidirectional overrides, at most MaxText bytes.
func Clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		if (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			return -1 // bidirectional overrides and isolates: no spoofing of what follows
		}
		return r
	}, s)
	if len(s) > MaxText {
		cut := MaxText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

func clamp(n, hi int) int {
	return max(0, min(n, hi))
}
