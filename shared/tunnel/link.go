package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"
)

// streamWindow is the most of one stream this end lets be in flight (yamux
// starts every stream at 256 KiB and widens it as the reader keeps up), so
// how much a slow reader makes the other end buffer. At 256 KiB, yamux's
// default, large uploads and print files waited on window updates (see
// BenchmarkTunnelUpload5MB, BenchmarkTunnelDownload4MB). The peer sends
// only what this end allows, so ends of earlier versions keep theirs.
const streamWindow = 1 << 20

// legacyWindow is the window of every version before streamWindow grew.
const legacyWindow = 256 << 10

// writeTimeout bounds how long one yamux frame may wait to be written
// before the stream that wrote it gives up. Dead links are found by the
// keepalive, so this only needs to be generous for slow kiosk uplinks.
const writeTimeout = 30 * time.Second

// streamCloseTimeout is how long a stream this end has closed may wait
// for the peer to close its side before it is reset. Neither end ever
// half-closes on purpose (HTTP and the proxied WebSockets close both ways
// at once), so a peer still sending is sending to no one: a phone that
// cut a print-file download left the agent writing into a full window
// until yamux's default of 5 minutes, holding the handler and its buffers.
const streamCloseTimeout = time.Second

// link is one live tunnel: a yamux session over a WebSocket, with a
// keepalive that closes it when the peer stops answering. It serves as the
// net.Listener of the agent's HTTP server; the relay drains it instead.
type link struct {
	sess *yamux.Session
	conn *wsNetConn

	stopKeepAlive func() // set at the start

	mu  sync.Mutex
	err error // why the link went down; set once
}

// linkConfig is how one end starts its link.
type linkConfig struct {
	server    bool // the agent is the yamux server (it accepts streams), the relay the client
	keepAlive time.Duration
	logger    *slog.Logger
	raw       *corkConn // the agent's connection under the WebSocket; nil on the relay
	// older makes this end behave as an earlier version did: for tests
	// that ends of different versions understand each other.
	older olderEnd
}

// olderEnd is an earlier version's way of using the link.
type olderEnd int

const (
	currentEnd         olderEnd = iota
	batchingEnd                 // batched messages, a 256 KiB window and read limit
	messagePerWriteEnd          // a message per yamux Write, as before batching; 256 KiB
)

// window and readLimit are this end's stream window and WebSocket read
// limit.
func (lc linkConfig) window() uint32 {
	if lc.older != currentEnd {
		return legacyWindow
	}
	return streamWindow
}

func (lc linkConfig) readLimit() int64 {
	if lc.older != currentEnd {
		return legacyMessageLen
	}
	return maxMessageLen
}

// newLink starts yamux over ws.
func newLink(ws *websocket.Conn, lc linkConfig) (*link, error) {
	server, keepAlive, logger := lc.server, lc.keepAlive, lc.logger
	// The link outlives the handshake's request and context; it ends with
	// Close or when the peer goes away.
	nc := &wsNetConn{ws: ws}
	if lc.older != messagePerWriteEnd {
		nc.batch = newBatchWriter(messageWriter{ws}, func() { ws.CloseNow() }, lc.raw)
	}
	ws.SetReadLimit(lc.readLimit())

	cfg := yamux.DefaultConfig()
	cfg.EnableKeepAlive = false // see keepAlive
	cfg.KeepAliveInterval = keepAlive
	cfg.ConnectionWriteTimeout = writeTimeout
	cfg.MaxStreamWindowSize = lc.window()
	cfg.StreamCloseTimeout = streamCloseTimeout
	cfg.LogOutput = nil
	cfg.Logger = yamuxLogger{logger}

	newSession := yamux.Client
	if server {
		newSession = yamux.Server
	}
	sess, err := newSession(nc, cfg)
	if err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("start yamux: %w", err)
	}
	l := &link{sess: sess, conn: nc}
	l.startKeepAlive(keepAlive)
	return l, nil
}

// keeper pings the peer every interval and takes the link down when the
// peer sent nothing at all for one and a half intervals while a ping is
// unanswered. Anything from the peer counts: a pong can queue behind a
// large transfer on a slow link, but the peer's own pings (every
// interval, both ends ping), its window updates and its data keep coming.
// Checked every half interval, a dead or half-open link is down within
// two intervals. yamux has a keepalive of its own, but it waits up to
// twice its write timeout and does not say why a link died.
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
	s, err := l.sess.AcceptStream()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errPeerClosed
		}
		l.fail(err)
		// Always ErrClosed on top, so that http.Server.Serve stops rather
		// than retrying what it might take for a temporary net.Error.
		return nil, fmt.Errorf("%w: %w", ErrClosed, l.Err())
	}
	return &stream{s}, nil
}

var errPeerClosed = errors.New("peer closed the connection")

// Close takes the link down.
func (l *link) Close() error {
	l.fail(fmt.Errorf("closed on this side"))
	return nil
}

// Addr is the local address of the WebSocket, or a placeholder.
func (l *link) Addr() net.Addr { return l.sess.Addr() }

// done is closed as soon as the link is down.
func (l *link) done() <-chan struct{} { return l.sess.CloseChan() }

// open opens a stream to the peer, giving up when ctx ends.
func (l *link) open(ctx context.Context) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		s   *yamux.Stream
		err error
	}
	opened := make(chan result, 1)
	go func() {
		s, err := l.sess.OpenStream()
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
		return &stream{r.s}, nil
	case <-ctx.Done():
		go func() {
			if r := <-opened; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// stream is one yamux stream, which copies in large pieces. net/http
// hands a response body read from a file (the print file, above all) to
// the connection's ReadFrom, and copies through 32 KiB otherwise: a
// yamux frame, a hand-off to yamux's writer and a read syscall at the
// other end for each. A copy through copyBufSize makes those a few
// times fewer. Each Read's bytes are still written at once, so a body
// that trickles in goes out as it comes.
type stream struct{ *yamux.Stream }

// copyBufSize is the piece stream copies in: a quarter of a stream's
// window, and the whole of an older peer's.
const copyBufSize = 256 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

func (s *stream) ReadFrom(r io.Reader) (int64, error) {
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	// Neither side's WriterTo or ReaderFrom: they would copy through
	// buffers of their own.
	return io.CopyBuffer(struct{ io.Writer }{s.Stream}, struct{ io.Reader }{r}, *buf)
}

// wsNetConn is the WebSocket as the byte stream yamux runs on: binary
// messages read back to back, whatever their boundaries. Its Close skips
// the WebSocket close handshake, which waits up to 10 s for a peer that
// may have stopped reading; yamux has nothing more to say at that point,
// and the peer learns of the end from the closed connection.
//
// It reads and writes with a context that never ends, for which the
// WebSocket library arms no timeout: websocket.NetConn's own context set
// one up (and took it down) around every frame read and every write, for
// deadlines that yamux never sets. The link's keepalive finds a dead peer.
type wsNetConn struct {
	ws       *websocket.Conn
	msg      io.Reader    // the message being read, if any
	batch    *batchWriter // nil: a message per Write, as before batching
	lastRead atomic.Int64 // unix nanoseconds of the last bytes from the peer
}

// messageWriter writes each Write as one binary message.
type messageWriter struct{ ws *websocket.Conn }

func (m messageWriter) Write(p []byte) (int, error) {
	if err := m.ws.Write(context.Background(), websocket.MessageBinary, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Write sends yamux's frames, gathered into few messages (see batchWriter).
func (c *wsNetConn) Write(p []byte) (int, error) {
	if c.batch == nil {
		return messageWriter{c.ws}.Write(p)
	}
	return c.batch.Write(p)
}

// Read reads the peer's messages as one stream, and notes when the peer
// last sent anything: a peer that is sending is alive, even if its answer
// to a ping is queued behind bulk data. Only yamux's goroutine reads.
func (c *wsNetConn) Read(p []byte) (int, error) {
	for {
		if c.msg == nil {
			typ, r, err := c.ws.Reader(context.Background())
			if err != nil {
				switch websocket.CloseStatus(err) {
				case websocket.StatusNormalClosure, websocket.StatusGoingAway:
					return 0, io.EOF
				}
				return 0, err
			}
			if typ != websocket.MessageBinary {
				c.ws.Close(websocket.StatusUnsupportedData, "binary messages only")
				return 0, fmt.Errorf("a %v message where only binary ones are sent", typ)
			}
			c.msg = r
		}
		n, err := c.msg.Read(p)
		if err == io.EOF {
			c.msg, err = nil, nil
		}
		if n > 0 {
			c.lastRead.Store(time.Now().UnixNano())
			return n, err
		}
		if err != nil {
			return 0, err
		}
	}
}

// heardSince reports whether the peer sent anything after t.
func (c *wsNetConn) heardSince(t time.Time) bool {
	return c.lastRead.Load() > t.UnixNano()
}

func (c *wsNetConn) Close() error {
	if c.batch != nil {
		c.batch.Close()
	}
	c.ws.CloseNow()
	return nil
}

// yamuxLogger passes yamux's log lines to slog at debug level, formatting
// them only when debug is on: a hostile peer can make yamux log a line for
// every 12 bytes it sends.
type yamuxLogger struct{ logger *slog.Logger }

func (y yamuxLogger) Printf(format string, v ...any) {
	if y.enabled() {
		y.logger.Debug(fmt.Sprintf(format, v...))
	}
}

func (y yamuxLogger) Print(v ...any) {
	if y.enabled() {
		y.logger.Debug(fmt.Sprint(v...))
	}
}

func (y yamuxLogger) Println(v ...any) {
	if y.enabled() {
		y.logger.Debug(strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
	}
}

func (y yamuxLogger) enabled() bool {
	return y.logger.Enabled(context.Background(), slog.LevelDebug)
}
