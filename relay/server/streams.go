package server

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"

	"casefleet/relay/metrics"
)

// streamWriteTimeout bounds one write to a customer's WebSocket: a phone
// that stops reading is cut off once its buffers are full, not kept with
// the agent's events piling up.
const streamWriteTimeout = 30 * time.Second

// streamCaps counts the customers' WebSockets open at once per client
// address and per session. A WebSocket holds a connection, a stream of
// the tunnel and a goroutine pair for its whole life, which the request
// rate limits do not bound.
type streamCaps struct {
	maxIP, maxSession int // 0: no cap

	mu        sync.Mutex
	bySource  map[string]int
	bySession map[string]int
}

func newStreamCaps(maxIP, maxSession int) *streamCaps {
	return &streamCaps{maxIP: maxIP, maxSession: maxSession, bySource: map[string]int{}, bySession: map[string]int{}}
}

// acquire takes a place for a WebSocket from ip in session (which may be
// empty), or says which cap is full. release gives it back; call it once.
func (c *streamCaps) acquire(ip, session string) (release func(), full string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.maxIP > 0 && c.bySource[ip] >= c.maxIP {
		return nil, metrics.LimitStreamsIP
	}
	if session != "" && c.maxSession > 0 && c.bySession[session] >= c.maxSession {
		return nil, metrics.LimitStreamsSession
	}
	c.bySource[ip]++
	if session != "" {
		c.bySession[session]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			decrement(c.bySource, ip)
			if session != "" {
				decrement(c.bySession, session)
			}
		})
	}, ""
}

// decrement lowers m[k], forgetting keys at zero so the maps hold only
// open streams.
func decrement(m map[string]int, k string) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}

func tooManyStreams() failure {
	return failure{status: http.StatusTooManyRequests, code: "too_many_streams", retryAfter: 5 * time.Second}
}

// streamWriter hands the proxy, when it takes over a customer's
// connection for a WebSocket, a connection with deadlines: net/http
// clears them at the hijack, and a dead phone (a half-open connection
// that sends nothing) would otherwise hold it for ever.
type streamWriter struct {
	http.ResponseWriter
	idle time.Duration
}

func (w streamWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &deadlineConn{Conn: c, idle: w.idle}, brw, nil
}

func (w streamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// deadlineConn gives every read idle to bring something (the agent pings
// every 25 s, and a live phone answers) and every write
// streamWriteTimeout to go out.
type deadlineConn struct {
	net.Conn
	idle time.Duration
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	return c.Conn.Write(p)
}
