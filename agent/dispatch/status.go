package dispatch

import (
	"fmt"
	"time"

	"casefleet/agent/ink"
	"casefleet/agent/queue"
)

// Machine states, as the public API names them.
const (
	StateOnline   = "online"
	StateOffline  = "offline"
	StatePrinting = "printing"
	StateError    = "error"
)

// Status is the machine as customers and operators see it; its JSON is the
// body of GET .../status and of machineStatus events.
type Status struct {
	Code                 string     `json:"code"`
	Name                 string     `json:"name"`
	Location             string     `json:"location"`
	Status               string     `json:"status"`
	CurrentOrder         string     `json:"currentOrder,omitempty"`
	QueueLength          int        `json:"queueLength"`
	InkLevels            ink.Levels `json:"inkLevels"`
	EstimatedWaitSeconds int        `json:"estimatedWaitSeconds"`
	Paused               bool       `json:"paused"`
	MQTTConnected        bool       `json:"mqttConnected"`
	LastContact          *time.Time `json:"lastContact,omitempty"`
	LastError            string     `json:"lastError,omitempty"`
}

// Status reports the machine's current state.
func (d *Dispatcher) Status() (Status, error) {
	pending, wait, err := d.q.Line()
	if err != nil {
		return Status{}, fmt.Errorf("status of %s: %w", d.opt.MachineCode, err)
	}
	d.mu.Lock()
	m, paused := d.machine, d.paused
	d.mu.Unlock()

	s := Status{
		Code:                 d.opt.MachineCode,
		Name:                 d.opt.Name,
		Location:             d.opt.Location,
		QueueLength:          len(pending),
		InkLevels:            m.ink,
		EstimatedWaitSeconds: int(wait.Round(time.Second) / time.Second),
		Paused:               paused,
		MQTTConnected:        d.link.MQTTConnected(),
		LastError:            m.lastError,
	}
	if !m.lastContact.IsZero() {
		t := m.lastContact
		s.LastContact = &t
	}
	for _, o := range pending {
		if o.Stage != queue.StageQueued {
			s.CurrentOrder = o.ID
			break
		}
	}
	switch {
	case !m.reachable || !m.online:
		s.Status = StateOffline
	case !m.normal:
		s.Status = StateError
	case s.CurrentOrder != "":
		s.Status = StatePrinting
	default:
		s.Status = StateOnline
	}
	return s, nil
}

// publishStatus appends a machineStatus event when what a customer sees of
// the machine has changed.
func (d *Dispatcher) publishStatus() {
	s, err := d.Status()
	if err != nil {
		d.log.Error("machine status", "err", err)
		return
	}
	cmp := s
	cmp.LastContact, cmp.EstimatedWaitSeconds, cmp.LastError = nil, 0, ""
	d.mu.Lock()
	same := cmp == d.published
	d.published = cmp
	d.mu.Unlock()
	if same {
		return
	}
	if _, err := d.q.AppendEvent("machineStatus", s); err != nil {
		d.log.Error("append machineStatus event", "err", err)
	}
}
