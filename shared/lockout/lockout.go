// Package lockout counts a client's wrong secrets (the operator PIN on a
// kiosk's dashboard, an admin token at the relay's fleet page) and makes
// it wait: a few free tries, then a wait that doubles with every further
// wrong one, up to a cap; forgotten after a quiet hour, cleared by a right
// one. It is the one in-memory table both use.
package lockout

import (
	"sync"
	"time"
)

// Policy is how wrong tries are punished.
type Policy struct {
	Free        int           // wrong tries without a wait
	First       time.Duration // the first wait, doubled by every further wrong try
	Max         time.Duration // the longest wait
	ForgetAfter time.Duration // a client quiet this long starts afresh
	// MaxClients bounds the table. When it is full of clients still
	// remembered, unknown clients must wait First until entries age out:
	// a flood of addresses cannot buy an attacker fresh tries.
	MaxClients int
}

// Default is the policy of the dashboard's PIN and the fleet page's
// login: 5 free tries, then 30 s doubling up to 15 min, forgotten after an
// hour, at most 4,096 clients remembered.
func Default() Policy {
	return Policy{Free: 5, First: 30 * time.Second, Max: 15 * time.Minute, ForgetAfter: time.Hour, MaxClients: 4096}
}

// Table counts wrong tries per client. It is safe for concurrent use.
type Table struct {
	p   Policy
	now func() time.Time

	mu      sync.Mutex
	clients map[string]*failures
}

type failures struct {
	count       int
	last        time.Time
	lockedUntil time.Time
}

// New returns an empty table; now is the clock (time.Now if nil).
func New(p Policy, now func() time.Time) *Table {
	if now == nil {
		now = time.Now
	}
	return &Table{p: p, now: now, clients: make(map[string]*failures)}
}

// Policy is the table's policy.
func (l *Table) Policy() Policy { return l.p }

// Wait is how long client must wait before it may try; 0 means now.
func (l *Table) Wait(client string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.clients[client]
	if f == nil {
		if len(l.clients) >= l.p.MaxClients && !l.sweep(now) {
			return l.p.First
		}
		return 0
	}
	if now.Before(f.lockedUntil) {
		return f.lockedUntil.Sub(now)
	}
	return 0
}

// Failed records a wrong try and returns how many tries the client has
// left before it is locked out, and how long it is locked out now.
func (l *Table) Failed(client string) (left int, locked time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.clients[client]
	if f == nil || now.Sub(f.last) > l.p.ForgetAfter {
		if f == nil && len(l.clients) >= l.p.MaxClients && !l.sweep(now) {
			return 0, l.p.First
		}
		f = &failures{}
		l.clients[client] = f
	}
	f.count++
	f.last = now
	if f.count < l.p.Free {
		return l.p.Free - f.count, 0
	}
	d := l.p.First << min(f.count-l.p.Free, 16)
	d = min(d, l.p.Max)
	f.lockedUntil = now.Add(d)
	return 0, d
}

// Succeeded forgets the client's wrong tries.
func (l *Table) Succeeded(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.clients, client)
}

// sweep drops the clients that are neither locked nor recently failed and
// reports whether there is room now.
func (l *Table) sweep(now time.Time) bool {
	for k, f := range l.clients {
		if now.Sub(f.last) > l.p.ForgetAfter && !now.Before(f.lockedUntil) {
			delete(l.clients, k)
		}
	}
	return len(l.clients) < l.p.MaxClients
}
