// Package fleetpage renders the fleet owner's page on the relay (/fleet/):
// every machine the relay knows, by location, with what an owner watches
// (status, line, ink, the order at the printer, the last day's failures,
// versions, tunnel up or down since, the printer's last word); its login
// page; its CSV export. Server-rendered HTML in six languages (Arabic right
// to left) and one small script for live updates and filters. It holds no
// state: relay/server gathers the machines and keeps the sessions.
package fleetpage

import (
	"slices"
	"strings"
	"time"

	"casefleet/shared/summary"
)

// States of a machine as the fleet page shows it.
const (
	StateKioskOffline   = "kiosk_offline"   // no tunnel: the agent is not connected to any relay
	StateNoAnswer       = "no_answer"       // a tunnel, but the agent has not answered lately
	StateOnline         = "online"          // the printer is ready
	StatePrinting       = "printing"        // the printer is printing
	StatePrinterOffline = "printer_offline" // the agent is up, its printer is not
	StateError          = "error"           // the printer reports a fault
)

// Problems a machine can have; the page filters by them.
const (
	ProblemOffline = "offline"
	ProblemInkLow  = "ink_low"
	ProblemFull    = "full"
	ProblemFailing = "failing"
)

// Problems lists them in the order the page offers them.
func Problems() []string {
	return []string{ProblemOffline, ProblemInkLow, ProblemFull, ProblemFailing}
}

// Machine is one row of the fleet page.
type Machine struct {
	Code     string
	Location string
	// Online: a relay holds its tunnel now.
	Online bool
	// Relay is the instance id of the relay holding (or that last held)
	// the tunnel.
	Relay string
	// UpSince is when the tunnel came up (if Online); DownSince when it
	// went down (if not, and known).
	UpSince, DownSince time.Time
	// Summary is the agent's last word, nil if never heard; Fresh says it
	// is recent (an online machine whose summary is stale is "no answer").
	Summary *summary.Summary
	Fresh   bool
}

// Name is the machine's name as its agent gave it, or "".
func (m Machine) Name() string {
	if m.Summary == nil {
		return ""
	}
	return m.Summary.Name
}

// State is the machine's state word (State... constants).
func (m Machine) State() string {
	switch {
	case !m.Online:
		return StateKioskOffline
	case m.Summary == nil || !m.Fresh:
		return StateNoAnswer
	}
	switch m.Summary.Status {
	case "online":
		return StateOnline
	case "printing":
		return StatePrinting
	case "offline":
		return StatePrinterOffline
	}
	return StateError
}

// Problems are the machine's problems now.
func (m Machine) Problems() []string {
	var out []string
	switch m.State() {
	case StateKioskOffline, StateNoAnswer, StatePrinterOffline:
		out = append(out, ProblemOffline)
	}
	if s := m.Summary; s != nil && m.Online {
		if len(s.InkLow) > 0 {
			out = append(out, ProblemInkLow)
		}
		if s.Full {
			out = append(out, ProblemFull)
		}
	}
	if s := m.Summary; s != nil && (s.Failures > 0 || m.State() == StateError) {
		out = append(out, ProblemFailing)
	}
	return out
}

// HasProblem reports whether the machine has problem p ("" matches any
// machine).
func (m Machine) HasProblem(p string) bool {
	return p == "" || slices.Contains(m.Problems(), p)
}

// Filter picks machines: Location "" is every location, Problem "" every
// machine.
type Filter struct {
	Location string
	Problem  string
}

// MaxFilterLen bounds a filter's values, which come from a URL.
const MaxFilterLen = 128

// ParseFilter reads a filter from query values, dropping what is not one
// (an unknown problem, an oversized location).
func ParseFilter(location, problem string) Filter {
	var f Filter
	if len(location) <= MaxFilterLen {
		f.Location = summary.Clean(location)
	}
	if slices.Contains(Problems(), problem) {
		f.Problem = problem
	}
	return f
}

// Apply returns the machines f picks, in order.
func (f Filter) Apply(ms []Machine) []Machine {
	out := make([]Machine, 0, len(ms))
	for _, m := range ms {
		if (f.Location == "" || m.Location == f.Location) && m.HasProblem(f.Problem) {
			out = append(out, m)
		}
	}
	return out
}

// Query is the filter as URL query parameters ("" for none), with a
// leading "?".
func (f Filter) Query(extra ...string) string {
	var parts []string
	if f.Location != "" {
		parts = append(parts, "location="+queryEscape(f.Location))
	}
	if f.Problem != "" {
		parts = append(parts, "problem="+f.Problem)
	}
	parts = append(parts, extra...)
	if len(parts) == 0 {
		return ""
	}
	return "?" + strings.Join(parts, "&")
}

// Sort orders machines by location (no location last), then code.
func Sort(ms []Machine) {
	slices.SortFunc(ms, func(a, b Machine) int {
		switch {
		case a.Location == b.Location:
			return strings.Compare(a.Code, b.Code)
		case a.Location == "":
			return 1
		case b.Location == "":
			return -1
		}
		return strings.Compare(a.Location, b.Location)
	})
}

// Locations are the distinct locations of ms, sorted.
func Locations(ms []Machine) []string {
	var out []string
	for _, m := range ms {
		if m.Location != "" {
			out = append(out, m.Location)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
