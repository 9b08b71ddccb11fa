package tunnel

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
)

// frameGuard watches the WebSocket frames a peer sends and fails the read
// at the header of a frame that declares more than max payload bytes. The
// WebSocket library enforces its read limit only as the payload arrives,
// so a header declaring 2^40 bytes followed by silence held a tunnel open
// until the keepalive gave up on it (two intervals, 20 s); no frame of
// ours is ever larger than maxMessageLen.
type frameGuard struct {
	r   io.Reader
	max int64

	head    [14]byte // the current frame's header, as far as read
	got     int      // bytes of head read
	need    int      // header length, once its second byte is known
	payload uint64   // payload bytes still to pass before the next header
}

// errFrameTooLarge is wrapped by the error of a guarded read.
var errFrameTooLarge = fmt.Errorf("%w: WebSocket frame over the limit", ErrClosed)

func (g *frameGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	for i := 0; i < n; {
		if g.payload > 0 {
			skip := min(g.payload, uint64(n-i))
			g.payload -= skip
			i += int(skip)
			continue
		}
		g.head[g.got] = p[i]
		g.got++
		i++
		if g.got == 2 {
			g.need = 2
			switch g.head[1] & 0x7f {
			case 126:
				g.need += 2
			case 127:
				g.need += 8
			}
			if g.head[1]&0x80 != 0 { // masked: a client's frame
				g.need += 4
			}
		}
		if g.got < 2 || g.got < g.need {
			continue
		}
		var length uint64
		switch l := g.head[1] & 0x7f; l {
		case 126:
			length = uint64(binary.BigEndian.Uint16(g.head[2:4]))
		case 127:
			length = binary.BigEndian.Uint64(g.head[2:10])
		default:
			length = uint64(l)
		}
		if length > uint64(g.max) {
			return 0, fmt.Errorf("%w: a frame header declares %d bytes, at most %d", errFrameTooLarge, length, g.max)
		}
		g.payload, g.got, g.need = length, 0, 0
	}
	return n, err
}

// guardedConn is a hijacked connection read through a frameGuard.
type guardedConn struct {
	net.Conn
	guard *frameGuard
}

func (c *guardedConn) Read(p []byte) (int, error) { return c.guard.Read(p) }

// guardedHijacker hands websocket.Accept the connection read through a
// frameGuard, with what the server had buffered already in front.
type guardedHijacker struct {
	http.ResponseWriter
	max int64
}

func (h guardedHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	buffered, _ := brw.Reader.Peek(brw.Reader.Buffered())
	gc := &guardedConn{Conn: c, guard: &frameGuard{
		r:   io.MultiReader(bytes.NewReader(bytes.Clone(buffered)), c),
		max: h.max,
	}}
	return gc, bufio.NewReadWriter(bufio.NewReader(gc), brw.Writer), nil
}

func (h guardedHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }
