// Package session keeps customer sessions: a phone has no account, only the
// session id it keeps in localStorage, which carries its design in progress
// and its latest order across page reloads and returns. Sessions live in
// the agent's bbolt file and end after a period of inactivity, except while
// their order is in line or printing.
package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"casefleet/agent/internal/ids"
)

// Errors callers decide on, returned wrapped; test with errors.Is.
var (
	ErrNotFound     = errors.New("session not found")
	ErrExpired      = errors.New("session expired")
	ErrWrongMachine = errors.New("session belongs to another machine")
	ErrTooLarge     = errors.New("design too large")
	// ErrInvalid: a change breaks a rule of the store (a changed id or
	// machine, an unknown order status, a design that is not JSON).
	ErrInvalid = errors.New("invalid session")
)

// Order statuses as the customer's app shows them; the API layer derives
// them from the session's order.
const (
	StatusDesigning  = "designing"
	StatusProcessing = "processing" // the order is accepted and waits in line
	StatusPrinting   = "printing"
	StatusComplete   = "complete"
)

// Session is one customer's visit to one machine.
type Session struct {
	SessionID     string          `json:"sessionId"` // NewID: random, unguessable
	MachineCode   string          `json:"machineCode"`
	StartTime     time.Time       `json:"startTime"`
	LastSeen      time.Time       `json:"lastSeen"`
	CurrentDesign json.RawMessage `json:"currentDesign,omitempty"` // the editor's state, opaque here
	OrderStatus   string          `json:"orderStatus"`             // one of the Status constants
	OrderID       string          `json:"orderId,omitempty"`       // the session's latest order
}

// orderInProgress reports whether the session's order is still to be
// printed, which keeps the session alive however long the line.
func (s Session) orderInProgress() bool {
	return s.OrderStatus == StatusProcessing || s.OrderStatus == StatusPrinting
}

// Options tune a Store. Zero values mean the defaults.
type Options struct {
	// IdleTimeout ends a session not seen for this long, unless its order
	// is in progress; default 30 minutes.
	IdleTimeout time.Duration
	// MaxDesign bounds CurrentDesign in bytes; default 16 KiB.
	MaxDesign int
	// Now is the clock; default time.Now. For tests.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.MaxDesign <= 0 {
		o.MaxDesign = 16 << 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// NewID returns a fresh random session id.
func NewID() string { return ids.New() }

// ValidID reports whether s has the form NewID produces.
func ValidID(s string) bool { return ids.Valid(s) }

// maxOrderID bounds OrderID, which the API layer copies from an order.
const maxOrderID = 128

// validate checks a session about to be stored.
func (s Session) validate(maxDesign int) error {
	switch s.OrderStatus {
	case StatusDesigning, StatusProcessing, StatusPrinting, StatusComplete:
	default:
		return fmt.Errorf("%w: unknown order status %.40q", ErrInvalid, s.OrderStatus)
	}
	if len(s.OrderID) > maxOrderID {
		return fmt.Errorf("%w: order id of %d bytes", ErrInvalid, len(s.OrderID))
	}
	if len(s.CurrentDesign) > maxDesign {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(s.CurrentDesign), maxDesign)
	}
	if len(s.CurrentDesign) > 0 && !json.Valid(s.CurrentDesign) {
		return fmt.Errorf("%w: design is not JSON", ErrInvalid)
	}
	return nil
}

func decode(b []byte) (Session, error) {
	var s Session
	if err := json.Unmarshal(b, &s); err != nil {
		return Session{}, fmt.Errorf("decode session: %w", err)
	}
	if !ValidID(s.SessionID) {
		return Session{}, fmt.Errorf("decode session: malformed id %.40q", s.SessionID)
	}
	return s, nil
}
