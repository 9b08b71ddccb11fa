package relaytest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// FaultProxy forwards TCP connections to a target and injects the faults
// of a real network on command: Drop cuts every connection, Stall holds
// every byte back without closing anything (a frozen link) until Resume,
// HalfOpen closes the target's side while the client's stays open and
// silent (a NAT that forgot the mapping).
type FaultProxy struct {
	ln      net.Listener
	target  string
	stalled atomic.Bool

	mu       sync.Mutex
	pairs    []*pipePair
	refusing bool
	// UpstreamClosed receives a value each time a connection's target
	// side goes away (the target hung up, or a fault cut it).
	UpstreamClosed chan struct{}
}

type pipePair struct {
	client, upstream net.Conn
	toClient, toUp   *direction
	once             sync.Once
	halfOpen         atomic.Bool // the client is left hanging when the target goes
}

// direction is one way of a connection, with the bytes held back while
// the proxy stalls.
type direction struct {
	mu      sync.Mutex
	to      net.Conn
	pending []byte
}

// maxPending bounds what a stalled direction holds; beyond it, bytes are
// lost as on a congested link.
const maxPending = 8 << 20

// send writes b, or holds it while the proxy stalls.
func (d *direction) send(b []byte, stalled bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if stalled {
		if len(d.pending)+len(b) <= maxPending {
			d.pending = append(d.pending, b...)
		}
		return nil
	}
	if err := d.flushLocked(); err != nil {
		return err
	}
	_, err := d.to.Write(b)
	return err
}

func (d *direction) flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.flushLocked()
}

func (d *direction) flushLocked() error {
	if len(d.pending) == 0 {
		return nil
	}
	_, err := d.to.Write(d.pending)
	d.pending = nil
	return err
}

// StartFaultProxy listens on loopback and forwards to target until the
// test ends.
func StartFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{ln: ln, target: target, UpstreamClosed: make(chan struct{}, 1024)}
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's address.
func (p *FaultProxy) Addr() string { return p.ln.Addr().String() }

// URL is http:// and the proxy's address.
func (p *FaultProxy) URL() string { return "http://" + p.Addr() }

func (p *FaultProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refusing := p.refusing
		p.mu.Unlock()
		if refusing {
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pp := &pipePair{client: c, upstream: u, toClient: &direction{to: c}, toUp: &direction{to: u}}
		p.mu.Lock()
		p.pairs = append(p.pairs, pp)
		p.mu.Unlock()
		go p.pipe(pp, c, pp.toUp, true)
		go p.pipe(pp, u, pp.toClient, false)
	}
}

// pipe copies from one side into d until from ends.
func (p *FaultProxy) pipe(pp *pipePair, from net.Conn, d *direction, fromClient bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			if werr := d.send(buf[:n], p.stalled.Load()); werr != nil && !fromClient {
				break // the client is gone
			}
			// Writes to a closed target are swallowed: half-open.
		}
		if err != nil {
			break
		}
	}
	p.closeUpstream(pp)
	if fromClient || !pp.halfOpen.Load() {
		pp.client.Close()
	}
}

func (p *FaultProxy) closeUpstream(pp *pipePair) {
	pp.once.Do(func() {
		pp.upstream.Close()
		select {
		case p.UpstreamClosed <- struct{}{}:
		default:
		}
	})
}

// Drop cuts every connection now; new ones are accepted.
func (p *FaultProxy) Drop() {
	p.mu.Lock()
	pairs := p.pairs
	p.pairs = nil
	p.mu.Unlock()
	for _, pp := range pairs {
		pp.client.Close()
		p.closeUpstream(pp)
	}
}

// Stall holds back every byte, both ways, until Resume.
func (p *FaultProxy) Stall() { p.stalled.Store(true) }

// Resume delivers what was held back, lets bytes flow again and accepts
// new connections.
func (p *FaultProxy) Resume() {
	p.stalled.Store(false)
	p.mu.Lock()
	p.refusing = false
	pairs := p.pairs
	p.mu.Unlock()
	for _, pp := range pairs {
		pp.toClient.flush()
		pp.toUp.flush()
	}
}

// HalfOpen closes the target's side of every connection while the
// client's stays open, silently swallowing whatever the client sends;
// new connections are refused until Resume.
func (p *FaultProxy) HalfOpen() {
	p.mu.Lock()
	pairs := p.pairs
	p.refusing = true
	p.mu.Unlock()
	for _, pp := range pairs {
		pp.halfOpen.Store(true)
		p.closeUpstream(pp)
	}
}

// Close stops the proxy and cuts every connection.
func (p *FaultProxy) Close() {
	p.ln.Close()
	p.stalled.Store(false)
	p.Drop()
}
