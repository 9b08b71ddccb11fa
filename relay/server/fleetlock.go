package server

import (
	"context"
	"sync"
	"time"

	"casefleet/relay/route"
)

// Wrong admin tokens at the fleet page's login are counted like the
// agent's operator PIN (agent/dashboard/lockout.go): a client gets
// freeFailures tries, then must wait firstLock; every further wrong token
// doubles the wait, up to maxLock. A client that has not failed for
// forgetAfter starts afresh; a right token clears it. With Redis the
// relays count together (loginLock), else each its own (lockout).
const (
	freeFailures = 5
	firstLock    = 30 * time.Second
	maxLock      = 15 * time.Minute
	forgetAfter  = time.Hour
	// maxClients bounds the table. When it is full of clients that are
	// still remembered, unknown clients are refused until entries age
	// out: a flood of addresses cannot buy an attacker fresh tries.
	maxClients = 4096
)

// lockout counts wrong tokens per client.
type lockout struct {
	now func() time.Time

	mu      sync.Mutex
	clients map[string]*failures
}

type failures struct {
	count       int
	last        time.Time
	lockedUntil time.Time
}

func newLockout(now func() time.Time) *lockout {
	return &lockout{now: now, clients: make(map[string]*failures)}
}

// wait is how long client must wait before it may try a token; 0 means now.
func (l *lockout) wait(client string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.clients[client]
	if f == nil {
		if len(l.clients) >= maxClients && !l.sweep(now) {
			return firstLock
		}
		return 0
	}
	if now.Before(f.lockedUntil) {
		return f.lockedUntil.Sub(now)
	}
	return 0
}

// failed records a wrong token and returns how many tries the client has
// left before it is locked out, and how long it is locked out now.
func (l *lockout) failed(client string) (left int, locked time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.clients[client]
	if f == nil || now.Sub(f.last) > forgetAfter {
		if f == nil && len(l.clients) >= maxClients && !l.sweep(now) {
			return 0, firstLock
		}
		f = &failures{}
		l.clients[client] = f
	}
	f.count++
	f.last = now
	if f.count < freeFailures {
		return freeFailures - f.count, 0
	}
	d := firstLock << min(f.count-freeFailures, 16)
	d = min(d, maxLock)
	f.lockedUntil = now.Add(d)
	return 0, d
}

// succeeded forgets the client's wrong tokens.
func (l *lockout) succeeded(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.clients, client)
}

// sweep drops the clients that are neither locked nor recently failed and
// reports whether there is room now.
func (l *lockout) sweep(now time.Time) bool {
	for k, f := range l.clients {
		if now.Sub(f.last) > forgetAfter && !now.Before(f.lockedUntil) {
			delete(l.clients, k)
		}
	}
	return len(l.clients) < maxClients
}

// loginLock is the lockout the fleet page's login uses: in Redis when the
// relay has one (so the relays count a client's wrong tokens together),
// else this relay's own. Should Redis not answer, the relay's own counts.
type loginLock struct {
	dir *route.Directory // nil: the relay's own only
	mem *lockout
	log func(msg string, err error)
}

func (l *loginLock) policy() route.LoginPolicy {
	return route.LoginPolicy{Free: freeFailures, First: firstLock, Max: maxLock, ForgetAfter: forgetAfter}
}

// wait is how long client must wait before it may try a token.
func (l *loginLock) wait(ctx context.Context, client string) time.Duration {
	if l.dir != nil {
		w, err := l.dir.LoginWait(ctx, client)
		if err == nil {
			return w
		}
		l.log("fleet lockout (Redis): this relay's own counts", err)
	}
	return l.mem.wait(client)
}

// failed counts a wrong token and returns the lock it starts, if any.
func (l *loginLock) failed(ctx context.Context, client string) time.Duration {
	if l.dir != nil {
		_, locked, err := l.dir.LoginFailed(ctx, client, l.policy())
		if err == nil {
			return locked
		}
		l.log("fleet lockout (Redis): this relay's own counts", err)
	}
	_, locked := l.mem.failed(client)
	return locked
}

// succeeded forgets client's wrong tokens.
func (l *loginLock) succeeded(ctx context.Context, client string) {
	if l.dir != nil {
		if err := l.dir.LoginSucceeded(ctx, client); err != nil {
			l.log("fleet lockout (Redis)", err)
		}
	}
	l.mem.succeeded(client)
}
