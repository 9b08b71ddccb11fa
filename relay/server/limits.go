package server

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxSessionKey bounds the session ids the limiter keeps; longer ones are
// not session ids the agent would accept.
const maxSessionKey = 128

// limiter keeps a token bucket per key (a client IP, a session), and
// forgets keys left idle.
type limiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim      *rate.Limiter
	lastUsed time.Time
}

// newLimiter returns a limiter of perSecond with burst, or nil (no limit)
// when perSecond is 0.
func newLimiter(perSecond float64, burst int) *limiter {
	if perSecond <= 0 {
		return nil
	}
	return &limiter{limit: rate.Limit(perSecond), burst: burst, buckets: map[string]*bucket{}}
}

// allow spends a token of key, or says how long to wait for one.
func (l *limiter) allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.lastUsed = now
	l.mu.Unlock()

	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep forgets keys unused for idle.
func (l *limiter) sweep(now time.Time, idle time.Duration) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, b := range l.buckets {
		if now.Sub(b.lastUsed) > idle {
			delete(l.buckets, k)
		}
	}
}

// sessionOf is the customer session a request belongs to, as the agent
// reads it (header X-Session-Id or query sessionId); empty if none.
func sessionOf(r *http.Request) string {
	s := r.Header.Get("X-Session-Id")
	if s == "" {
		s = r.URL.Query().Get("sessionId")
	}
	if len(s) > maxSessionKey {
		s = s[:maxSessionKey]
	}
	return s
}

// rateLimited answers a request over its limit.
func rateLimited(retryAfter time.Duration) failure {
	return failure{
		status: http.StatusTooManyRequests, code: "rate_limited",
		retryAfter: max(retryAfter, time.Second),
	}
}
