package streamhttp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// conn is one stream to the agent, used by one request at a time.
type conn struct {
	t         *Transport
	nc        net.Conn
	br        *bufio.Reader // reads nc through conn.Read; kept with the stream
	headLeft  int           // bytes an answer's head may still take; -1 while reading a body
	reused    bool          // taken from the idle streams for this request
	idleSince time.Time

	// For the request in flight.
	stop   func() bool // stops the context's abort
	writer *bodyWriter // nil without a request body

	mu       sync.Mutex
	broken   bool // aborted: deadlines past, never reused
	gotHead  bool // the answer's head is read: no header timeout any more
	deadline bool // a header timeout is set on nc
}

var aLongTimeAgo = time.Unix(1, 0)

func newConn(t *Transport, nc net.Conn) *conn {
	c := &conn{t: t, nc: nc, headLeft: -1}
	c.br = bufio.NewReader(c)
	return c
}

// Read is the bufio.Reader's source: the stream, bounded while an
// answer's head is read.
func (c *conn) Read(p []byte) (int, error) {
	if c.headLeft < 0 {
		return c.nc.Read(p)
	}
	if c.headLeft == 0 {
		return 0, fmt.Errorf("streamhttp: the answer's head is over %d bytes", maxHeadBytes)
	}
	if len(p) > c.headLeft {
		p = p[:c.headLeft]
	}
	n, err := c.nc.Read(p)
	c.headLeft -= n
	return n, err
}

// abort wakes whatever waits on the stream, now and for good: a reader
// of the answer, the request body's writer. The stream is not reused.
func (c *conn) abort() {
	c.mu.Lock()
	c.broken = true
	c.nc.SetDeadline(aLongTimeAgo)
	c.mu.Unlock()
}

// close aborts and closes the stream. A multiplexer's Close may only
// half-close it, which would leave a blocked Read waiting; hence the
// deadline first.
func (c *conn) close() {
	c.abort()
	c.nc.Close()
}

// armHeaderTimeout starts the wait for the answer's head, once the
// request is written, unless the head came already (the agent answered
// before the whole body).
func (c *conn) armHeaderTimeout() {
	d := c.t.ResponseHeaderTimeout
	if d <= 0 {
		return
	}
	c.mu.Lock()
	if !c.broken && !c.gotHead {
		c.nc.SetReadDeadline(time.Now().Add(d))
		c.deadline = true
	}
	c.mu.Unlock()
}

// headDone ends the header timeout: reading the body has no deadline but
// the request's context.
func (c *conn) headDone() {
	c.mu.Lock()
	c.gotHead = true
	if c.deadline && !c.broken {
		c.nc.SetReadDeadline(time.Time{})
	}
	c.deadline = false
	c.mu.Unlock()
}

// send writes req on c and reads the answer's head. It always consumes
// body (closes it) and, on error, closes c.
func (c *conn) send(req *http.Request, body io.ReadCloser) (*http.Response, error) {
	ctx := req.Context()
	c.mu.Lock()
	c.gotHead, c.deadline = false, false
	c.mu.Unlock()
	c.writer = nil
	c.stop = context.AfterFunc(ctx, c.abort)

	length := outgoingLength(req, body)
	bw := getWriter(c.nc)
	writeHead(bw, req, length)
	var err error
	if body == nil {
		if err = bw.Flush(); err != nil {
			err = &staleError{"write the request", err} // nothing came back either
		} else {
			c.armHeaderTimeout()
		}
		putWriter(bw)
	} else {
		c.writer = &bodyWriter{done: make(chan struct{})}
		go c.writeBody(c.writer, bw, body, length, req.Trailer)
	}
	var resp *http.Response
	if err == nil {
		resp, err = c.readResponse(req)
	}
	if err != nil {
		c.stop()
		c.close()
		return nil, c.failure(ctx, err)
	}
	c.headDone()

	if resp.StatusCode == http.StatusSwitchingProtocols {
		// The stream is the caller's now, its cancellation included.
		if !c.stop() {
			c.nc.Close()
			return nil, fmt.Errorf("streamhttp: %w", ctx.Err())
		}
		resp.Body = &upgraded{c}
		return resp, nil
	}
	keep := !resp.Close && !req.Close
	if resp.Body == http.NoBody {
		c.finish(keep)
		return resp, nil
	}
	resp.Body = &responseBody{rc: resp.Body, c: c, ctx: ctx, keep: keep}
	return resp, nil
}

// readResponse reads the answer's head, past any 1xx but 101 (the
// agent's server sends 100 Continue on its own).
func (c *conn) readResponse(req *http.Request) (*http.Response, error) {
	c.headLeft = maxHeadBytes
	defer func() { c.headLeft = -1 }()
	if _, err := c.br.Peek(1); err != nil {
		return nil, &staleError{"the agent closed the stream before answering", err}
	}
	for informational := 0; ; informational++ {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil && c.headLeft == 0 {
			// Cut short by the limit, the head may look malformed
			// instead: say what happened.
			return nil, fmt.Errorf("streamhttp: the answer's head is over %d bytes", maxHeadBytes)
		}
		if err != nil {
			return nil, fmt.Errorf("streamhttp: read the agent's answer: %w", err)
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
		if informational == 5 { // as http.Transport
			return nil, errors.New("streamhttp: too many 1xx answers")
		}
	}
}

// failure is the error for a request whose answer did not come: the
// request's end, the body's, the header timeout, or what the stream said,
// in that order.
func (c *conn) failure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("streamhttp: %w", ctx.Err())
	}
	if w := c.writer; w != nil {
		select {
		case <-w.done:
			if w.bodyErr != nil {
				return fmt.Errorf("streamhttp: request body: %w", w.bodyErr)
			}
		default:
		}
	}
	var ne net.Error
	if c.t.ResponseHeaderTimeout > 0 && errors.As(err, &ne) && ne.Timeout() {
		return timeoutError{}
	}
	return err
}

// finish ends the request on c: the stream goes back to the idle ones
// if it may (keep), the request's context did not end, the request body
// went out whole, and nothing follows the answer; else it is closed.
func (c *conn) finish(keep bool) {
	stopped := c.stop()
	if keep && stopped && c.writer.wait() && c.br.Buffered() == 0 {
		c.t.put(c)
		return
	}
	c.close()
}

// responseBody is an answer's body: read to its end it frees the stream
// for the next request.
type responseBody struct {
	rc   io.ReadCloser
	c    *conn
	ctx  context.Context
	keep bool

	mu    sync.Mutex
	state int // bodyOpen, bodyEOF or bodyClosed
}

const (
	bodyOpen = iota
	bodyEOF
	bodyClosed
)

func (b *responseBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	state := b.state
	b.mu.Unlock()
	switch state {
	case bodyEOF:
		return 0, io.EOF
	case bodyClosed:
		return 0, errBodyClosed
	}
	n, err := b.rc.Read(p)
	if err == nil {
		return n, nil
	}
	if err == io.EOF {
		b.end(bodyEOF)
		return n, err
	}
	b.end(bodyClosed)
	if b.ctx.Err() != nil {
		err = b.ctx.Err()
	}
	return n, err
}

// Close drops the stream unless the body was read to its end: reading
// what is left could take as long as the agent likes.
func (b *responseBody) Close() error {
	b.end(bodyClosed)
	return nil
}

func (b *responseBody) end(state int) {
	b.mu.Lock()
	open := b.state == bodyOpen
	if open {
		b.state = state
	}
	b.mu.Unlock()
	if open {
		b.c.finish(b.keep && state == bodyEOF)
	}
}

// upgraded is a 101 answer's body: the stream, with the bytes already
// read past the answer's head.
type upgraded struct{ c *conn }

func (u *upgraded) Read(p []byte) (int, error)  { return u.c.br.Read(p) }
func (u *upgraded) Write(p []byte) (int, error) { return u.c.nc.Write(p) }
func (u *upgraded) Close() error                { return u.c.nc.Close() }
