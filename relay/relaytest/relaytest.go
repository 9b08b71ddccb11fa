// Package relaytest runs the relay's real parts on loopback for tests and
// load harnesses: a fleet key with its tokens, relays in the test process,
// and lightweight agents (real tunnels with a handler of the test's
// choosing).
package relaytest

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"casefleet/relay/config"
	"casefleet/relay/server"
	"casefleet/shared/enroll"
	"casefleet/shared/testenv"
	"casefleet/shared/tunnel"
)

// Wait bounds every wait for something that should happen soon; reaching
// it is a failure. Generous: tests run on busy two-core machines under the
// race detector.
const Wait = 20 * time.Second

// Fleet is a fleet key pair on disk.
type Fleet struct {
	Dir     string
	KeyFile string // private
	PubFile string
	priv    ed25519.PrivateKey
}

// NewFleet makes a fleet key pair in a temporary directory.
func NewFleet(t testing.TB) *Fleet {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fleet")
	pub, priv, err := enroll.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := enroll.WriteKeyPair(dir, pub, priv); err != nil {
		t.Fatal(err)
	}
	return &Fleet{Dir: dir, KeyFile: filepath.Join(dir, enroll.PrivateKeyFile), PubFile: filepath.Join(dir, enroll.PublicKeyFile), priv: priv}
}

// Token issues a token for code at location, without expiry.
func (f *Fleet) Token(t testing.TB, code, location string) string {
	t.Helper()
	return f.TokenWith(t, enroll.Claims{Machine: code, Location: location})
}

// TokenWith issues a token with the given claims.
func (f *Fleet) TokenWith(t testing.TB, c enroll.Claims) string {
	t.Helper()
	tok, err := enroll.Issue(f.priv, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Config is a relay configuration for tests: the defaults, this fleet's
// key, loopback, no rate limits, a keepalive shorter than the default.
func (f *Fleet) Config(t testing.TB) config.Config {
	t.Helper()
	cfg, err := config.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.FleetPub = f.PubFile
	cfg.KeepAlive = 5 * time.Second // a loaded test machine delays pings by seconds
	cfg.RateIP, cfg.RateSession = 0, 0
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

// Relay is a relay serving in the test process.
type Relay struct {
	URL    string // http://127.0.0.1:port
	Addr   string
	Server *server.Server
	cancel context.CancelFunc
	done   chan error
}

// StartRelay serves a relay with cfg until the test ends (or Stop). With
// cfg.Listen "127.0.0.1:0" it picks a port; PublicURL and AdvertiseURL, if
// empty, become its own URL.
func StartRelay(t testing.TB, cfg config.Config) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	if cfg.PublicURL == "" {
		cfg.PublicURL = url
	}
	if cfg.RedisURL != "" && cfg.AdvertiseURL == "" {
		cfg.AdvertiseURL = url
	}
	srv, err := server.New(cfg, Logger(t, "relay "+cfg.InstanceID))
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Relay{URL: url, Addr: ln.Addr().String(), Server: srv, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { r.Stop(t) })
	return r
}

// Stop shuts the relay down gracefully and waits for it.
func (r *Relay) Stop(t testing.TB) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("relay: %v", err)
		}
	case <-time.After(Wait):
		t.Error("relay did not stop in time")
	}
}

// Agent is a lightweight agent: a real tunnel serving Handler.
type Agent struct {
	Code string
	mu   sync.Mutex
	last tunnel.State
	seq  int
	cond chan struct{}
	stop context.CancelFunc
	done chan struct{}
}

// AgentOptions configure StartAgent.
type AgentOptions struct {
	RelayURL  string
	Code      string
	Token     string
	Handler   http.Handler // nil: answers "CODE METHOD URI"
	KeepAlive time.Duration
	// Reconnection delays; zero means 20 ms to 250 ms, quicker than an
	// agent's defaults (tunnel.DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	Version                string              // announced; "test" if empty
	RelayClient            *tunnel.RelayClient // the agent's own requests to the relay
}

// StartAgent runs a tunnel agent until the test ends (or Stop).
func StartAgent(t testing.TB, opt AgentOptions) *Agent {
	t.Helper()
	a := &Agent{Code: opt.Code, cond: make(chan struct{}), done: make(chan struct{})}
	h := opt.Handler
	if h == nil {
		h = Echo(opt.Code)
	}
	if opt.MinBackoff == 0 {
		opt.MinBackoff = 20 * time.Millisecond
	}
	if opt.MaxBackoff == 0 {
		opt.MaxBackoff = 250 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	go func() {
		defer close(a.done)
		err := tunnel.RunAgent(ctx, tunnel.AgentConfig{
			RelayURL: opt.RelayURL, MachineCode: opt.Code, Token: opt.Token, Version: cmp.Or(opt.Version, "test"),
			RelayClient: opt.RelayClient,
			Handler:     h, Logger: Logger(t, "agent "+opt.Code), KeepAlive: opt.KeepAlive,
			MinBackoff: opt.MinBackoff, MaxBackoff: opt.MaxBackoff,
			OnState: a.record,
		})
		if err != nil {
			t.Errorf("agent %s: %v", opt.Code, err)
		}
	}()
	t.Cleanup(a.Stop)
	return a
}

func (a *Agent) record(s tunnel.State) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.last = s
	a.seq++
	close(a.cond)
	a.cond = make(chan struct{})
}

// Changes is how many states the agent has reported so far.
func (a *Agent) Changes() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seq
}

// Stop stops the agent and waits for it.
func (a *Agent) Stop() {
	a.stop()
	<-a.done
}

// WaitState waits until the agent's latest state satisfies ok.
func (a *Agent) WaitState(t testing.TB, what string, ok func(tunnel.State) bool) tunnel.State {
	t.Helper()
	deadline := time.After(Wait)
	for {
		a.mu.Lock()
		s, cond := a.last, a.cond
		a.mu.Unlock()
		if ok(s) {
			return s
		}
		select {
		case <-cond:
		case <-deadline:
			t.Fatalf("agent %s: not %s within %v (last state %+v)", a.Code, what, Wait, s)
		}
	}
}

// Echo answers every request with "CODE METHOD URI".
func Echo(code string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, code+" "+r.Method+" "+r.URL.RequestURI())
	})
}

// WaitRoutable waits until GET base/api/chitu/machine/CODE/status answers
// something other than the relay's own "offline" or "unknown".
func WaitRoutable(t testing.TB, base, code string) {
	t.Helper()
	Eventually(t, Wait, code+" routable through "+base, func() bool {
		resp, err := http.Get(base + "/api/chitu/machine/" + code + "/status")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return !strings.Contains(string(b), `"machine_offline"`) && !strings.Contains(string(b), `"unknown_machine"`) &&
			resp.StatusCode != http.StatusBadGateway
	})
}

// Eventually is testenv.Eventually: cond polled until it holds, or the
// test fails after within.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, within, what, cond)
}

// Refused reports whether the agent's relay refused it with code.
func Refused(code string) func(tunnel.State) bool {
	return func(s tunnel.State) bool {
		var re *tunnel.RefusedError
		return s.Rejected && errors.As(s.Err, &re) && re.Code == code
	}
}

// Connected is a tunnel state that is up.
func Connected(s tunnel.State) bool { return s.Connected }

// Logger is testenv.Logger: quiet unless CASEFLEET_TEST_LOG is set.
func Logger(t testing.TB, component string) *slog.Logger { return testenv.Logger(t, component) }
