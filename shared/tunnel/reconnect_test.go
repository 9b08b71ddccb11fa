package tunnel

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"casefleet/shared/enroll"
)

func TestRefusedAgentReportsReasonAndBacksOff(t *testing.T) {
	f := newFleet(t)
	stolen := newFleet(t)
	expired, err := enroll.Issue(f.priv, enroll.Claims{
		Machine:   "CT0700026",
		IssuedAt:  time.Date(2025, 11, 1, 10, 0, 0, 0, time.UTC).Unix(),
		ExpiresAt: time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	revs, err := enroll.ParseRevocations(strings.NewReader("machine:CT0700046\n"))
	if err != nil {
		t.Fatal(err)
	}
	verifier := &enroll.Verifier{PublicKey: f.pub, Revocations: revs}
	auth := func(r *http.Request, code, token string) (enroll.Claims, error) {
		return verifier.VerifyFor(code, token)
	}

	tests := []struct {
		name    string
		machine string
		token   string
		status  int
		code    string
		message string
	}{
		{"token of another fleet", "CT0700026", stolen.token(t, "CT0700026"), 401, "token_invalid",
			"relay refused the tunnel: token was not signed by this fleet key"},
		{"expired token", "CT0700026", expired, 401, "token_expired",
			"relay refused the tunnel: token for CT0700026 expired on 2026-01-01 10:00 UTC"},
		{"token of another machine", "CT0700026", f.token(t, "CT0700027"), 403, "wrong_machine",
			"relay refused the tunnel: token is for CT0700027, not CT0700026"},
		{"revoked machine", "CT0700046", f.token(t, "CT0700046"), 403, "token_revoked",
			"relay refused the tunnel: every token for CT0700046 is revoked"},
		{"garbage token", "CT0700026", "hello", 401, "token_malformed", "malformed token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			relay := startRelay(t, auth, AcceptOptions{})
			const maxBackoff = 300 * time.Millisecond
			states := startAgent(t, AgentConfig{
				RelayURL:    relay.URL(),
				MachineCode: tt.machine,
				Token:       tt.token,
				Handler:     hello("kiosk"),
				MinBackoff:  time.Millisecond,
				MaxBackoff:  maxBackoff,
			})
			s := states.waitFor(t, 0, waitTimeout, "a rejection", func(s State) bool { return s.Rejected })
			var refused *RefusedError
			if !errors.As(s.Err, &refused) {
				t.Fatalf("State.Err = %v (%T), want a *RefusedError", s.Err, s.Err)
			}
			if refused.Status != tt.status || refused.Code != tt.code || !strings.Contains(s.Err.Error(), tt.message) {
				t.Errorf("refusal = %d %q %q, want %d %q %q", refused.Status, refused.Code, s.Err, tt.status, tt.code, tt.message)
			}
			if s.Connected {
				t.Error("a rejected agent reports itself connected")
			}

			// A refused agent waits about MaxBackoff, not MinBackoff, before
			// trying again.
			first, second := <-relay.attempts, time.Time{}
			select {
			case second = <-relay.attempts:
			case <-time.After(waitTimeout):
				t.Fatal("the agent never tried again")
			}
			if gap := second.Sub(first); gap < maxBackoff/2 {
				t.Errorf("retried %v after a refusal, want at least %v", gap, maxBackoff/2)
			}
		})
	}
}

func TestTemporaryRefusalIsNotRejection(t *testing.T) {
	relay := startRelay(t, func(r *http.Request, code, token string) (enroll.Claims, error) {
		return enroll.Claims{}, errors.Join(ErrUnavailable, errors.New("directory is down"))
	}, AcceptOptions{})
	states := startAgent(t, AgentConfig{RelayURL: relay.URL(), Token: "cf1.x.y", Handler: hello("kiosk")})
	s := states.waitFor(t, 0, waitTimeout, "a failure", isDisconnected)
	var refused *RefusedError
	if s.Rejected || !errors.As(s.Err, &refused) || refused.Status != http.StatusServiceUnavailable {
		t.Errorf("state = %+v, want a 503 refusal that is not a rejection", s)
	}
}

func TestReconnectsWhenRelayDropsTunnel(t *testing.T) {
	f := newFleet(t)
	relay := startRelay(t, f.authenticator(), AcceptOptions{})
	states := startAgent(t, AgentConfig{RelayURL: relay.URL(), Token: f.token(t, "CT0700026"), Handler: hello("kiosk"),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	client := &http.Client{Timeout: waitTimeout}

	for round := range 3 {
		conn := relay.nextConn(t)
		states.waitFor(t, 0, waitTimeout, "connected", isConnected)
		if status, body := get(t, client, relay.URL()+"/hi"); status != http.StatusOK || body != "kiosk GET /hi" {
			t.Fatalf("round %d: GET = %d %q", round, status, body)
		}
		mark := states.mark()
		conn.Close()
		down := states.waitFor(t, mark, waitTimeout, "disconnected", isDisconnected)
		if down.Rejected || !errors.Is(down.Err, ErrClosed) {
			t.Errorf("round %d: state after the relay closed the tunnel = %+v", round, down)
		}
		states.waitFor(t, mark, waitTimeout, "connected again", isConnected)
	}
}

func TestReconnectsAfterRelayRestart(t *testing.T) {
	f := newFleet(t)
	relay := startRelay(t, f.authenticator(), AcceptOptions{})
	states := startAgent(t, AgentConfig{RelayURL: relay.URL(), Token: f.token(t, "CT0700026"), Handler: hello("kiosk"),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	client := &http.Client{Timeout: waitTimeout}
	states.waitFor(t, 0, waitTimeout, "connected", isConnected)
	relay.nextConn(t) // the relay holds the tunnel before it stops

	mark := states.mark()
	addr := relay.addr
	relay.stop()
	states.waitFor(t, mark, waitTimeout, "disconnected", isDisconnected)
	// Let it fail to dial at least once while the relay is away.
	states.waitFor(t, mark, waitTimeout, "a failed dial", func(s State) bool {
		return !s.Connected && s.Err != nil && !errors.Is(s.Err, ErrClosed)
	})
	relay.start(addr)
	states.waitFor(t, mark, waitTimeout, "connected again", isConnected)
	relay.nextConn(t)
	if status, body := get(t, client, relay.URL()+"/again"); status != http.StatusOK || body != "kiosk GET /again" {
		t.Fatalf("GET after restart = %d %q", status, body)
	}
}

// TestHalfOpenLinkIsDetected puts a TCP proxy between agent and relay that
// stops forwarding without closing anything, as a dead NAT mapping or a
// pulled cable upstream does.
func TestHalfOpenLinkIsDetected(t *testing.T) {
	const keepAlive = 200 * time.Millisecond
	f := newFleet(t)
	relay := startRelay(t, f.authenticator(), AcceptOptions{KeepAlive: keepAlive})
	proxy := startGateProxy(t, relay.addr)
	states := startAgent(t, AgentConfig{
		RelayURL:   "http://" + proxy.addr(),
		Token:      f.token(t, "CT0700026"),
		Handler:    hello("kiosk"),
		KeepAlive:  keepAlive,
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
	})
	states.waitFor(t, 0, waitTimeout, "connected", isConnected)
	conn := relay.nextConn(t)

	mark := states.mark()
	proxy.pause()
	paused := time.Now()
	// Two intervals is the promise; the margin is for a busy test machine.
	budget := 2*keepAlive + 2*time.Second
	down := states.waitFor(t, mark, budget, "the dead link", isDisconnected)
	t.Logf("agent noticed the dead link after %v: %v", time.Since(paused), down.Err)
	select {
	case <-conn.Done():
		t.Logf("relay noticed the dead link after %v: %v", time.Since(paused), conn.Err())
	case <-time.After(budget):
		t.Fatalf("the relay did not notice the dead link within %v", budget)
	}
	if conn.Err() == nil {
		t.Error("Conn.Err is nil after the tunnel died")
	}

	proxy.resume()
	states.waitFor(t, mark, waitTimeout, "connected again", isConnected)
	relay.nextConn(t)
	client := &http.Client{Timeout: waitTimeout}
	if status, body := get(t, client, relay.URL()+"/back"); status != http.StatusOK || body != "kiosk GET /back" {
		t.Fatalf("GET after the link came back = %d %q", status, body)
	}
}

// gateProxy forwards TCP connections to target, and can hold every byte
// back (without closing anything) until resumed.
type gateProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	open  chan struct{} // closed while forwarding
	conns []net.Conn
}

func startGateProxy(t *testing.T, target string) *gateProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &gateProxy{ln: ln, target: target, open: make(chan struct{})}
	close(p.open)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *gateProxy) addr() string { return p.ln.Addr().String() }

func (p *gateProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

func (p *gateProxy) pipe(from, to net.Conn) {
	defer from.Close()
	defer to.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			p.mu.Lock()
			open := p.open
			p.mu.Unlock()
			<-open
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *gateProxy) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default:
	}
}

func (p *gateProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

func (p *gateProxy) close() {
	p.ln.Close()
	p.resume()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}
