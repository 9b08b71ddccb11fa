package api

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter keeps per-session token buckets: one for every call, one for
// orders.
type limiter struct {
	perMinute, perHour int

	mu       sync.Mutex
	sessions map[string]*sessionLimits
}

type sessionLimits struct {
	calls, orders *rate.Limiter
	lastUsed      time.Time
}

func newLimiter(perMinute, perHour int) *limiter {
	return &limiter{perMinute: perMinute, perHour: perHour, sessions: make(map[string]*sessionLimits)}
}

func (l *limiter) get(session string) *sessionLimits {
	l.mu.Lock()
	defer l.mu.Unlock()
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
	return spend(l.get(session).calls, "Too many requests from this session. Please slow down.")
}

// allowOrder spends one order token of session.
func (l *limiter) allowOrder(session string) error {
	return spend(l.get(session).orders, "Too many orders from this session. Please wait a little before ordering again.")
}

func spend(lim *rate.Limiter, message string) error {
	r := lim.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return newError(http.StatusTooManyRequests, "rate_limited", message).after(d)
	}
	return nil
}

// sweep forgets sessions unused for longer than idle.
func (l *limiter) sweep(idle time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, sl := range l.sessions {
		if time.Since(sl.lastUsed) > idle {
			delete(l.sessions, id)
		}
	}
}
