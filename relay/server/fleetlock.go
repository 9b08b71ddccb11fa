package server

import (
	"context"
	"time"

	"casefleet/relay/route"
	"casefleet/shared/lockout"
)

// Wrong admin tokens at the fleet page's login are counted like the
// agent's operator PIN (shared/lockout's default policy). With Redis the
// relays count together (loginLock), else each its own.

// loginLock is the lockout the fleet page's login uses: in Redis when the
// relay has one (so the relays count a client's wrong tokens together),
// else this relay's own. Should Redis not answer, the relay's own counts.
type loginLock struct {
	dir *route.Directory // nil: the relay's own only
	mem *lockout.Table
	log func(msg string, err error)
}

func (l *loginLock) policy() route.LoginPolicy {
	p := l.mem.Policy()
	return route.LoginPolicy{Free: p.Free, First: p.First, Max: p.Max, ForgetAfter: p.ForgetAfter}
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
	return l.mem.Wait(client)
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
	_, locked := l.mem.Failed(client)
	return locked
}

// succeeded forgets client's wrong tokens.
func (l *loginLock) succeeded(ctx context.Context, client string) {
	if l.dir != nil {
		if err := l.dir.LoginSucceeded(ctx, client); err != nil {
			l.log("fleet lockout (Redis)", err)
		}
	}
	l.mem.Succeeded(client)
}
