package route

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"casefleet/relay/streamhttp"
	"casefleet/shared/tunnel"
)

// Tunnel is one agent's tunnel on this relay.
type Tunnel struct {
	Conn *tunnel.Conn
	// Transport reaches the agent through Conn's streams. The relay
	// builds its own (rather than Conn.Transport): lighter than
	// http.Transport, and with the relay's timeouts.
	Transport *streamhttp.Transport
	ID        string    // unique per tunnel, names it in the directory
	Since     time.Time // when it was admitted

	closedBecause atomic.Pointer[string]
}

// Machine is the machine code of the agent at the other end.
func (t *Tunnel) Machine() string { return t.Conn.Machine() }

// Location is the location of the agent's token, possibly empty.
func (t *Tunnel) Location() string { return t.Conn.Claims().Location }

// Up reports whether the tunnel is still up.
func (t *Tunnel) Up() bool {
	select {
	case <-t.Conn.Done():
		return false
	default:
		return true
	}
}

// Close takes the tunnel down and drops its idle streams.
func (t *Tunnel) Close() {
	t.Conn.Close()
	t.Transport.CloseIdleConnections()
}

// CloseBecause closes the tunnel and remembers why the relay closed it
// (the first reason given stays), for whoever reports its end.
func (t *Tunnel) CloseBecause(reason string) {
	t.closedBecause.CompareAndSwap(nil, &reason)
	t.Close()
}

// ClosedBecause is the reason given to CloseBecause, or "" if the relay
// did not close the tunnel (the agent went away, or stopped answering).
func (t *Tunnel) ClosedBecause() string {
	if r := t.closedBecause.Load(); r != nil {
		return *r
	}
	return ""
}

// Table is the tunnels of this relay, one per machine: the newest wins.
// It is safe for concurrent use.
type Table struct {
	mu     sync.RWMutex
	byCode map[string]*Tunnel
}

// NewTable returns an empty table.
func NewTable() *Table {
	return &Table{byCode: map[string]*Tunnel{}}
}

// Put makes t its machine's tunnel and returns the tunnel it replaces, if
// any, for the caller to close: a kiosk that reconnects is never locked
// out by its own dead tunnel.
func (tb *Table) Put(t *Tunnel) (replaced *Tunnel) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	replaced = tb.byCode[t.Machine()]
	tb.byCode[t.Machine()] = t
	return replaced
}

// Remove removes t if it is still its machine's tunnel, and reports
// whether it was. A replaced tunnel that ends does not remove its
// successor.
func (tb *Table) Remove(t *Tunnel) bool {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.byCode[t.Machine()] != t {
		return false
	}
	delete(tb.byCode, t.Machine())
	return true
}

// Get returns the live tunnel of machine code, or nil.
func (tb *Table) Get(code string) *Tunnel {
	tb.mu.RLock()
	t := tb.byCode[code]
	tb.mu.RUnlock()
	if t == nil || !t.Up() {
		return nil
	}
	return t
}

// All returns every tunnel, by machine code.
func (tb *Table) All() []*Tunnel {
	tb.mu.RLock()
	out := make([]*Tunnel, 0, len(tb.byCode))
	for _, t := range tb.byCode {
		out = append(out, t)
	}
	tb.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Machine() < out[j].Machine() })
	return out
}

// Len is the number of tunnels.
func (tb *Table) Len() int {
	tb.mu.RLock()
	defer tb.mu.RUnlock()
	return len(tb.byCode)
}
