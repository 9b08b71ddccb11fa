package tunnel

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// corkSize is how much a corked connection gathers before it writes: a
// stream's piece of a file (copyBufSize) in one syscall. At 64 KiB the
// agent spent a tenth more CPU per megabyte of a print file.
const corkSize = 256 << 10

// corkConn is the agent's TCP connection to the relay, under TLS if any.
// The agent is the WebSocket client, so it masks what it sends, and the
// WebSocket library masks through a 4 KiB buffer that it writes out each
// time it fills: a 4.5 MB print file was over a thousand write syscalls.
// While corked (around the write of one batch of messages), corkConn
// gathers those writes and sends them corkSize at a time.
type corkConn struct {
	net.Conn

	mu     sync.Mutex
	corked bool
	buf    []byte
}

// Write sends p at once unless corked.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		return c.Conn.Write(p)
	}
	if c.buf == nil {
		c.buf = make([]byte, 0, corkSize)
	}
	if len(c.buf)+len(p) > corkSize {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= corkSize {
			return c.Conn.Write(p)
		}
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what was gathered, and later writes go out at once.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	return c.flushLocked()
}

func (c *corkConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// corkingClient is an HTTP client like http.DefaultClient (the same proxy
// settings from the environment, the same TLS) whose connection it hands
// to dialed, for the WebSocket handshake of one tunnel.
func corkingClient(dialed func(*corkConn)) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	dial := t.DialContext
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cc := &corkConn{Conn: c}
		dialed(cc)
		return cc, nil
	}
	return &http.Client{Transport: t}
}
