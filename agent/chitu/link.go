// Package chitu is the agent's device link: the real driver for a Chitu
// printer, speaking the vendor's signed open API over HTTP and its MQTT
// events (see shared/docs/chitu-protocol.md). The rest of the agent sees
// the printer only through Link.
package chitu

import (
	"context"
	"errors"
	"fmt"

	"casefleet/agent/chitu/protocol"
	"casefleet/agent/ink"
)

// Link is the agent's connection to one printer.
type Link interface {
	// Machine reads the machine's current state from the open API.
	Machine(ctx context.Context) (Machine, error)
	// Products lists the phone models the machine prints (type diy, active).
	Products(ctx context.Context) ([]protocol.Brand, error)
	// CreateOrder asks the machine to print the file at imageURL. It returns
	// the vendor's order id. An error that is a *RejectedError means the
	// platform answered and refused: nothing was created. Any other error is
	// ambiguous (the order may or may not exist at the vendor).
	CreateOrder(ctx context.Context, productID, imageURL string) (string, error)
	// SetQRCode sets the QR code shown on the machine's home screen.
	SetQRCode(ctx context.Context, url string) error
	// RequestMachineInfo publishes a machineInfo command; the answer
	// arrives on Events.
	RequestMachineInfo(ctx context.Context) error
	// CleanNozzle publishes a cleanNozzle command; the result arrives on
	// Events.
	CleanNozzle(ctx context.Context) error
	// Events delivers this machine's MQTT events, and a Resync event each
	// time the MQTT link (re)connects, after which events may have been
	// missed. The channel is closed when the link is closed.
	Events() <-chan Event
	// MQTTConnected reports whether the MQTT link is up.
	MQTTConnected() bool
	// Close stops the link.
	Close() error
}

// Event is one thing the link heard from the platform.
type Event struct {
	// Resync is set when the MQTT link (re)connected: events may have been
	// missed and in-flight orders should be reconciled.
	Resync bool
	// Msg is the platform's message when Resync is false.
	Msg protocol.Event

	ack func() // acknowledges the MQTT message to the broker
}

// Done tells the broker that the event has been applied durably, so it
// may forget it. Until then, a persistent session keeps it: an agent
// killed between reading an event and storing what it says gets it again
// after the restart. Call it once the event's effect is committed (or
// when it is ignored); calling it more than once, or on a Resync, is
// harmless.
func (e Event) Done() {
	if e.ack != nil {
		e.ack()
	}
}

// Machine is a printer as the agent sees it.
type Machine struct {
	Code      string
	DeviceID  string
	MachineID string
	Name      string
	Model     string
	Address   string
	Online    bool
	Ink       ink.Levels
}

// InkFromSugars maps the candy-machine field values to ink levels.
func InkFromSugars(m protocol.Machine) ink.Levels {
	level := func(v string) string {
		switch v {
		case protocol.InkSufficient:
			return ink.OK
		case protocol.InkLow:
			return ink.Low
		}
		return ink.Unknown
	}
	return ink.Levels{
		Cyan:    level(m.WhiteSugar),
		Magenta: level(m.BlueSugar),
		Yellow:  level(m.YellowSugar),
		Black:   level(m.RedSugar),
	}
}

// RejectedError is the platform's refusal of a call: it answered with a
// status other than 200.
type RejectedError struct {
	Call   string
	Status int
	Msg    string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("chitu %s refused: status %d: %s", e.Call, e.Status, e.Msg)
}

// IsRejected reports whether err is a definite refusal by the platform.
func IsRejected(err error) bool {
	var r *RejectedError
	return errors.As(err, &r)
}
