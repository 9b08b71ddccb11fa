package api

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter keeps per-session token buckets: one for every call, one for
// orders. Only accepted orders use up the order allowance: a refused photo,
// a full line or a retry answered with the order already made costs none.
type limiter struct {
	perMinute, perHour int

	mu       sync.Mutex
	sessions map[string]*sessionLimits
}

type sessionLimits struct {
	calls, orders *rate.Limiter
	// making counts orders of the session being made now; each holds one
	// order token until it is accepted or refused, so that a burst of
	// parallel orders cannot overrun the allowance.
	making   int
	lastUsed time.Time
}

func newLimiter(perMinute, perHour int) *limiter {
	return &limiter{perMinute: perMinute, perHour: perHour, sessions: make(map[string]*sessionLimits)}
}

// get returns session's buckets; l.mu must be held.
func (l *limiter) get(session string) *sessionLimits {
	sl, ok := l.sessions[session]
	if !ok {
		sl = &sessionLimits{
			calls:  rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), max(l.perMinute/4, 5)),
			orders: rate.NewLimiter(rate.Limit(float64(l.perHour)/3600), max(l.perHour/4, 2)),
		}
		l.sessions[session] = sl
	}
	sl.lastUsed = time.Now()
	return sl
}

// allowCall spends one call token of session.
func (l *limiter) allowCall(session string) error {
	l.mu.Lock()
	calls := l.get(session).calls
	l.mu.Unlock()
	r := calls.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return newError(http.StatusTooManyRequests, "rate_limited", "Too many requests from this session. Please slow down.").after(d)
	}
	return nil
}

// startOrder holds one order token of session while an order is made, or
// refuses when the session has none left. The caller must call done once:
// done(true) when the order was accepted (the token is spent), done(false)
// otherwise (the token is given back).
func (l *limiter) startOrder(session string) (done func(accepted bool), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sl := l.get(session)
	if short := float64(sl.making+1) - sl.orders.Tokens(); short > 0 {
		wait := time.Duration(short / float64(sl.orders.Limit()) * float64(time.Second))
		return nil, newError(http.StatusTooManyRequests, "rate_limited", "Too many orders from this session. Please wait a little before ordering again.").after(wait)
	}
	sl.making++
	return func(accepted bool) {
		l.mu.Lock()
		defer l.mu.Unlock()
		sl.making--
		if accepted {
			// The held token is still there (only accepted orders take
			// any), so this spends it without waiting.
			sl.orders.Reserve()
		}
	}, nil
}

// sweep forgets sessions unused for longer than idle.
func (l *limiter) sweep(idle time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, sl := range l.sessions {
		if time.Since(sl.lastUsed) > idle && sl.making == 0 {
			delete(l.sessions, id)
		}
	}
}
