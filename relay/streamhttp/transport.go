// Package streamhttp is the relay's HTTP/1.1 client for one agent: each
// request goes over a stream of the agent's tunnel (one stream, one
// connection to the agent's net/http server), and streams are kept alive
// and reused.
//
// It does what http.Transport does for this one case with less
// machinery: the goroutine that asks writes the request and reads the
// answer itself. http.Transport runs a read loop and a write loop per
// connection and hands every request and response between them and the
// caller, which under many small requests costs the relay more CPU than
// the requests themselves. A request body is still copied by a goroutine
// of its own while the answer is read, since an agent may answer (413,
// say) before it has read the whole body.
package streamhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Transport is an http.RoundTripper to one agent. Its zero value keeps
// no idle stream and waits for answers as long as the request's context
// allows; Dial must be set. It is safe for concurrent use.
type Transport struct {
	// Dial opens a new stream to the agent.
	Dial func(ctx context.Context) (net.Conn, error)
	// MaxIdle is how many streams are kept for reuse; 0 keeps none.
	MaxIdle int
	// IdleTimeout closes a stream unused this long; 0 keeps idle streams
	// until reused (a stream the agent closed meanwhile is found then).
	IdleTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the answer's head once
	// the request is written, body included; 0 is no limit.
	ResponseHeaderTimeout time.Duration

	mu    sync.Mutex
	idle  []*conn     // by when they went idle: the last is reused first
	sweep *time.Timer // closes expired idle streams; nil when none is idle
}

// maxHeadBytes bounds an answer's status line and header (1xx answers
// included), so a hostile agent cannot make the relay buffer without end.
const maxHeadBytes = 1 << 20

// RoundTrip sends req to the agent and returns its answer. The caller
// reads and closes the response's body; the stream goes back to the idle
// ones when the body was read to its end and neither side asked to close.
// A 101 Switching Protocols answer's body is the stream itself, an
// io.ReadWriteCloser, as httputil.ReverseProxy needs for WebSockets.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	body := req.Body
	if body == http.NoBody {
		body = nil
	}
	if err := validate(req); err != nil {
		if body != nil {
			body.Close()
		}
		return nil, err
	}
	ctx := req.Context()
	for retry := false; ; retry = true {
		c, err := t.get(ctx, retry)
		if err != nil {
			if body != nil {
				body.Close()
			}
			return nil, fmt.Errorf("streamhttp: open stream: %w", err)
		}
		resp, err := c.send(req, body)
		if err == nil {
			return resp, nil
		}
		// As http.Transport does: a stream the agent closed while it was
		// idle fails before any answer, and an idempotent request that
		// can be sent again is, once, on a new stream.
		var stale *staleError
		if retry || !c.reused || !errors.As(err, &stale) || !replayable(req) {
			return nil, err
		}
		if body != nil {
			if body, err = req.GetBody(); err != nil {
				return nil, fmt.Errorf("streamhttp: request body for a retry: %w", err)
			}
		}
	}
}

// replayable reports whether req may be sent again after a stream
// failed under it: the rules of http.Transport.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, ok := req.Header["Idempotency-Key"]
	_, xok := req.Header["X-Idempotency-Key"]
	return ok || xok
}

// CloseIdleConnections closes the idle streams.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	if t.sweep != nil {
		t.sweep.Stop()
		t.sweep = nil
	}
	t.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

// get returns an idle stream, or a new one when there is none or fresh
// is set.
func (t *Transport) get(ctx context.Context, fresh bool) (*conn, error) {
	if !fresh {
		if c := t.takeIdle(); c != nil {
			return c, nil
		}
	}
	nc, err := t.Dial(ctx)
	if err != nil {
		return nil, err
	}
	return newConn(t, nc), nil
}

func (t *Transport) takeIdle() *conn {
	t.mu.Lock()
	n := len(t.idle)
	if n == 0 {
		t.mu.Unlock()
		return nil
	}
	c := t.idle[n-1]
	if t.IdleTimeout > 0 && time.Since(c.idleSince) >= t.IdleTimeout {
		// The newest has expired, so have all the others.
		expired := t.idle
		t.idle = nil
		t.mu.Unlock()
		for _, c := range expired {
			c.nc.Close()
		}
		return nil
	}
	t.idle[n-1] = nil
	t.idle = t.idle[:n-1]
	t.mu.Unlock()
	c.reused = true
	return c
}

// put keeps c for reuse, or closes it when MaxIdle streams are idle.
func (t *Transport) put(c *conn) {
	c.idleSince = time.Now()
	t.mu.Lock()
	if len(t.idle) >= t.MaxIdle {
		t.mu.Unlock()
		c.nc.Close()
		return
	}
	t.idle = append(t.idle, c)
	if t.IdleTimeout > 0 && t.sweep == nil {
		t.sweep = time.AfterFunc(t.IdleTimeout, t.expire)
	}
	t.mu.Unlock()
}

// expire closes the streams idle for IdleTimeout, and comes back when
// the oldest remaining one will be. One timer per Transport, and none
// while no stream is idle: a relay holds thousands of quiet tunnels.
func (t *Transport) expire() {
	now := time.Now()
	t.mu.Lock()
	n := 0
	for n < len(t.idle) && now.Sub(t.idle[n].idleSince) >= t.IdleTimeout {
		n++
	}
	expired := make([]*conn, n)
	copy(expired, t.idle)
	t.idle = append(t.idle[:0], t.idle[n:]...)
	if len(t.idle) > 0 {
		next := t.IdleTimeout - now.Sub(t.idle[0].idleSince)
		if t.sweep == nil { // stopped by CloseIdleConnections as it fired
			t.sweep = time.AfterFunc(next, t.expire)
		} else {
			t.sweep.Reset(next)
		}
	} else {
		t.sweep = nil
	}
	t.mu.Unlock()
	for _, c := range expired {
		c.nc.Close()
	}
}

// idleCount is the number of idle streams (for tests).
func (t *Transport) idleCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.idle)
}

// staleError is a failure before any byte of an answer came: on a
// reused stream, most likely the agent had closed it while it was idle.
type staleError struct {
	what string // what failed
	err  error
}

func (e *staleError) Error() string { return "streamhttp: " + e.what + ": " + e.err.Error() }
func (e *staleError) Unwrap() error { return e.err }

// timeoutError is a wait for an answer's head that lasted
// ResponseHeaderTimeout.
type timeoutError struct{}

func (timeoutError) Error() string   { return "streamhttp: timeout awaiting response headers" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

var _ net.Error = timeoutError{}

// errBodyClosed is a read of a response body after Close.
var errBodyClosed = errors.New("streamhttp: read on closed response body")

var _ io.ReadWriteCloser = (*upgraded)(nil)
