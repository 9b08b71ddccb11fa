package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"casefleet/shared/mux"
	"github.com/coder/websocket"
)

// streamWindow is the most of one stream this end lets be in flight (the
// protocol starts every stream at 256 KiB and widens it as the reader keeps up), so
// how much a slow reader makes the other end buffer. At 256 KiB, yamux's
// default, large uploads and print files waited on window updates (see
// BenchmarkTunnelUpload5MB, BenchmarkTunnelDownload4MB). The peer sends
// only what this end allows, so ends of earlier versions keep theirs.
const streamWindow = 1 << 20

// streamCloseTimeout is how long a stream this end has closed may wait
// for the peer to close its side before it is reset. Neither end ever
// half-closes on purpose (HTTP and the proxied WebSockets close both ways
// at once), so a peer still sending is sending to no one: a phone that
// cut a print-file download left the agent writing into a full window
// until yamux's default of 5 minutes, holding the handler and its buffers.
const streamCloseTimeout = time.Second

// link is one live tunnel: a multiplexed session over a WebSocket, with a
// keepalive that closes it when the peer stops answering. It serves as the
// net.Listener of the agent's HTTP server; the relay drains it instead.
type link struct {
	sess session
	conn *wsNetConn

	stopKeepAlive func() // set at the start

	mu  sync.Mutex
	err error // why the link went down; set once
}

// session is the multiplexer over the WebSocket: shared/mux, or for
// tests an earlier version's hashicorp/yamux.
type session interface {
	Open() (net.Conn, error)
	Accept() (net.Conn, error)
	Ping() (time.Duration, error)
	Close() error
	IsClosed() bool
	CloseChan() <-chan struct{}
}

// linkConfig is how one end starts its link.
type linkConfig struct {
	server    bool // the agent is the server (it accepts streams), the relay the client
	keepAlive time.Duration
	logger    *slog.Logger
	raw       *corkConn // the agent's connection under the WebSocket; nil on the relay
	// older makes this end behave as an earlier version did: for tests
	// that ends of different versions understand each other.
	older olderEnd
}

// olderEnd starts an earlier version's session over the WebSocket; nil
// is this version.
type olderEnd func(nc *wsNetConn, lc linkConfig) (session, error)

// newLink starts the multiplexer over ws.
func newLink(ws *websocket.Conn, lc linkConfig) (*link, error) {
	// The link outlives the handshake's request and context; it ends with
	// Close or when the peer goes away.
	nc := &wsNetConn{Conn: websocket.NetConn(context.Background(), ws, websocket.MessageBinary), ws: ws, raw: lc.raw}
	ws.SetReadLimit(maxMessageLen) // after NetConn, which lifts the limit

	var sess session
	if lc.older != nil {
		var err error
		if sess, err = lc.older(nc, lc); err != nil {
			ws.CloseNow()
			return nil, err
		}
	} else {
		cfg := mux.Config{Window: streamWindow, CloseTimeout: streamCloseTimeout, Logger: lc.logger}
		if lc.server {
			sess = muxSession{mux.Server(nc, cfg)}
		} else {
			sess = muxSession{mux.Client(nc, cfg)}
		}
	}
	l := &link{sess: sess, conn: nc}
	l.startKeepAlive(lc.keepAlive)
	return l, nil
}

// muxSession is shared/mux's session as a session of net.Conns.
type muxSession struct{ *mux.Session }

func (m muxSession) Open() (net.Conn, error)   { return m.Session.Open() }
func (m muxSession) Accept() (net.Conn, error) { return m.Session.Accept() }

// keeper pings the peer every interval and takes the link down when the
// peer sent nothing at all for one and a half intervals while a ping is
// unanswered. Anything from the peer counts: a pong can queue behind a
// large transfer on a slow link, but the peer's own pings (every
// interval, both ends ping), its window updates and its data keep coming.
// Checked every half interval, a dead or half-open link is down within
// two intervals.
//
// It runs on a timer, not a goroutine of its own: a relay keeps thousands
// of idle links, and a goroutine's stack for each was a tenth of the
// relay's memory per idle tunnel. Each ping has a goroutine only while it
// waits for its pong.
type keeper struct {
	l        *link
	interval time.Duration
	timer    *time.Timer

	mu      sync.Mutex
	sent    time.Time // when the latest ping went
	pending bool      // the latest ping is not answered yet
	seq     uint64    // the latest ping's number
}

func (l *link) startKeepAlive(interval time.Duration) {
	k := &keeper{l: l, interval: interval, sent: time.Now()}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.timer = time.AfterFunc(interval/2, k.tick)
	l.stopKeepAlive = func() { k.timer.Stop() }
}

// tick runs every half interval: it fails the link if a ping is
// unanswered and the peer has been silent for one and a half intervals,
// and pings once an interval has passed since the last ping.
func (k *keeper) tick() {
	if k.l.sess.IsClosed() {
		return
	}
	now := time.Now()
	silence := k.interval * 3 / 2
	k.mu.Lock()
	if k.pending && !k.l.conn.heardSince(now.Add(-silence)) {
		k.mu.Unlock()
		k.l.fail(fmt.Errorf("peer sent nothing for %v and did not answer a keepalive ping", silence))
		return
	}
	k.timer.Reset(k.interval / 2)
	if now.Sub(k.sent) < k.interval {
		k.mu.Unlock()
		return
	}
	// Time to ping (again, if the last is unanswered but the peer is
	// busy rather than dead).
	k.seq++
	seq := k.seq
	k.sent, k.pending = now, true
	k.mu.Unlock()
	go k.ping(seq)
}

func (k *keeper) ping(seq uint64) {
	_, err := k.l.sess.Ping()
	if err != nil {
		if !k.l.sess.IsClosed() {
			k.l.fail(fmt.Errorf("keepalive ping: %w", err))
		}
		return
	}
	k.mu.Lock()
	if seq == k.seq {
		k.pending = false
	}
	k.mu.Unlock()
}

// fail takes the link down, keeping the first reason given.
func (l *link) fail(reason error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = reason
	}
	l.mu.Unlock()
	l.stopKeepAlive()
	if !l.sess.IsClosed() {
		l.sess.Close()
	}
}

// Err reports why the link went down, or nil while it is up.
func (l *link) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Accept waits for the peer to open a stream.
func (l *link) Accept() (net.Conn, error) {
	s, err := l.sess.Accept()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errPeerClosed
		}
		l.fail(err)
		// Always ErrClosed on top, so that http.Server.Serve stops rather
		// than retrying what it might take for a temporary net.Error.
		return nil, fmt.Errorf("%w: %w", ErrClosed, l.Err())
	}
	return s, nil
}

var errPeerClosed = errors.New("peer closed the connection")

// Close takes the link down.
func (l *link) Close() error {
	l.fail(fmt.Errorf("closed on this side"))
	return nil
}

// Addr is a placeholder: the streams' peer is the relay's customer, whose
// address travels in X-Forwarded-For.
func (l *link) Addr() net.Addr { return tunnelAddr{} }

type tunnelAddr struct{}

func (tunnelAddr) Network() string { return "tunnel" }
func (tunnelAddr) String() string  { return "tunnel" }

// done is closed as soon as the link is down.
func (l *link) done() <-chan struct{} { return l.sess.CloseChan() }

// open opens a stream to the peer, giving up when ctx ends.
func (l *link) open(ctx context.Context) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		s   net.Conn
		err error
	}
	opened := make(chan result, 1)
	go func() {
		s, err := l.sess.Open()
		opened <- result{s, err}
	}()
	select {
	case r := <-opened:
		if r.err != nil {
			if l.sess.IsClosed() {
				return nil, fmt.Errorf("%w: %w", ErrClosed, r.err)
			}
			return nil, r.err
		}
		return r.s, nil
	case <-ctx.Done():
		go func() {
			if r := <-opened; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// wsNetConn is the WebSocket as the multiplexer's connection. Its Close
// skips the WebSocket close handshake, which waits up to 10 s for a peer
// that may have stopped reading; the multiplexer has nothing more to say
// at that point, and the peer learns of the end from the closed
// connection.
type wsNetConn struct {
	net.Conn
	ws       *websocket.Conn
	raw      *corkConn    // the agent's TCP connection, corked per Write; nil on the relay
	lastRead atomic.Int64 // unix nanoseconds of the last bytes from the peer
}

// Write sends whole frames (one or several, see shared/mux) as WebSocket
// messages of at most legacyMessageLen, which peers of every version
// read. WebSocket message boundaries mean nothing to the reader: both ends
// read the messages as one byte stream.
func (c *wsNetConn) Write(p []byte) (int, error) {
	if c.raw != nil {
		c.raw.cork()
	}
	n := 0
	for n < len(p) {
		m := min(len(p)-n, legacyMessageLen)
		if _, err := c.Conn.Write(p[n : n+m]); err != nil {
			if c.raw != nil {
				c.raw.uncork()
			}
			return n, err
		}
		n += m
	}
	if c.raw != nil {
		if err := c.raw.uncork(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Read notes when the peer last sent anything: a peer that is sending is
// alive, even if its answer to a ping is queued behind bulk data.
func (c *wsNetConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// heardSince reports whether the peer sent anything after t.
func (c *wsNetConn) heardSince(t time.Time) bool {
	return c.lastRead.Load() > t.UnixNano()
}

func (c *wsNetConn) Close() error {
	c.ws.CloseNow()
	c.Conn.Close() // only stops the NetConn's timers now
	return nil
}
