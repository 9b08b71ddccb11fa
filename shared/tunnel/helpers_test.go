package tunnel

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"casefleet/shared/enroll"
)

// waitTimeout bounds every wait of these tests for something that should
// happen at once; reaching it is a failure, not a pause.
const waitTimeout = 10 * time.Second

// testLogger writes to the test's output only when -v is set, to keep
// failures readable.
func testLogger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fleet is a fleet key pair and the tokens issued with it.
type fleet struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newFleet(t testing.TB) *fleet {
	t.Helper()
	pub, priv, err := enroll.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return &fleet{pub, priv}
}

func (f *fleet) token(t testing.TB, code string) string {
	t.Helper()
	tok, err := enroll.Issue(f.priv, enroll.Claims{Machine: code, Location: "mall-3f"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// authenticator checks tokens the way the relay does.
func (f *fleet) authenticator() Authenticator {
	v := &enroll.Verifier{PublicKey: f.pub}
	return func(r *http.Request, code, token string) (enroll.Claims, error) {
		return v.VerifyFor(code, token)
	}
}

// testRelay is a relay in miniature: the agent endpoint, and a reverse
// proxy that forwards every other request to the newest tunnel of the
// machine named in the X-Test-Machine header (CT0700026 if none).
type testRelay struct {
	t        testing.TB
	auth     Authenticator
	opts     AcceptOptions
	addr     string
	srv      *httptest.Server
	accepted chan *Conn // every accepted tunnel, in order
	attempts chan time.Time

	mu    sync.Mutex
	conns map[string][]*Conn
	run   int // counts starts; a tunnel accepted by an earlier run is closed
}

func startRelay(t testing.TB, auth Authenticator, opts AcceptOptions) *testRelay {
	t.Helper()
	opts.Authenticate = auth
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	r := &testRelay{
		t:        t,
		opts:     opts,
		accepted: make(chan *Conn, 1000),
		attempts: make(chan time.Time, 1000),
		conns:    map[string][]*Conn{},
	}
	r.start("127.0.0.1:0")
	t.Cleanup(r.stop)
	return r
}

// start serves on addr; after stop, start(r.addr) is the same relay
// restarted on the same address.
func (r *testRelay) start(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.t.Fatalf("listen on %s: %v", addr, err)
	}
	r.addr = ln.Addr().String()
	r.mu.Lock()
	r.run++
	run := r.run
	r.mu.Unlock()
	r.srv = httptest.NewUnstartedServer(r.handler(run))
	r.srv.Listener.Close()
	r.srv.Listener = ln
	r.srv.Start()
}

// stop stops the server and drops every tunnel, as a relay that exits.
func (r *testRelay) stop() {
	if r.srv == nil {
		return
	}
	r.srv.CloseClientConnections()
	r.srv.Close()
	r.srv = nil
	r.mu.Lock()
	r.run++
	var all []*Conn
	for _, cs := range r.conns {
		all = append(all, cs...)
	}
	r.conns = map[string][]*Conn{}
	r.mu.Unlock()
	for _, c := range all {
		c.Close()
	}
}

func (r *testRelay) URL() string { return "http://" + r.addr }

// handler serves run, the number of the start that made it. A tunnel it
// accepts after that run was stopped is closed at once: the agent may
// report itself connected (it has the 101) before the handler registers
// the tunnel, and a stop in between must still drop it.
func (r *testRelay) handler(run int) http.Handler {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "agent"
			pr.SetXForwarded()
		},
		Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			c := r.newest(machineOf(req))
			if c == nil {
				return nil, fmt.Errorf("%s is offline", machineOf(req))
			}
			return c.Transport().RoundTrip(req)
		}),
		FlushInterval: -1,
		ErrorLog:      slog.NewLogLogger(r.opts.Logger.Handler(), slog.LevelDebug),
	}
	mux := http.NewServeMux()
	mux.Handle("/", proxy)
	mux.HandleFunc(ConnectPath, func(w http.ResponseWriter, req *http.Request) {
		select {
		case r.attempts <- time.Now():
		default: // nobody counts them in this test
		}
		c, err := Accept(w, req, r.opts)
		if err != nil {
			return
		}
		r.mu.Lock()
		if r.run != run {
			r.mu.Unlock()
			c.Close()
			return
		}
		r.conns[c.Machine()] = append(r.conns[c.Machine()], c)
		r.mu.Unlock()
		r.accepted <- c
	})
	return mux
}

func machineOf(req *http.Request) string {
	if m := req.Header.Get("X-Test-Machine"); m != "" {
		return m
	}
	return "CT0700026"
}

func (r *testRelay) newest(code string) *Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	cs := r.conns[code]
	for i := len(cs) - 1; i >= 0; i-- {
		select {
		case <-cs[i].Done():
		default:
			return cs[i]
		}
	}
	return nil
}

// nextConn waits for the relay to accept a tunnel.
func (r *testRelay) nextConn(t testing.TB) *Conn {
	t.Helper()
	select {
	case c := <-r.accepted:
		return c
	case <-time.After(waitTimeout):
		t.Fatal("the relay accepted no tunnel")
		return nil
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// stateLog records what an agent reports through OnState.
type stateLog struct {
	mu      sync.Mutex
	states  []State
	changed chan struct{}
}

func newStateLog() *stateLog { return &stateLog{changed: make(chan struct{})} }

func (l *stateLog) record(s State) {
	l.mu.Lock()
	l.states = append(l.states, s)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// mark is the position after which waitFor looks.
func (l *stateLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.states)
}

// waitFor returns the first state from position mark on that satisfies ok.
func (l *stateLog) waitFor(t testing.TB, mark int, timeout time.Duration, what string, ok func(State) bool) State {
	t.Helper()
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		for ; mark < len(l.states); mark++ {
			if s := l.states[mark]; ok(s) {
				l.mu.Unlock()
				return s
			}
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("agent never reported %s within %v", what, timeout)
		}
	}
}

func isConnected(s State) bool    { return s.Connected }
func isDisconnected(s State) bool { return !s.Connected }

// startAgent runs RunAgent until the test ends.
func startAgent(t testing.TB, cfg AgentConfig) *stateLog {
	t.Helper()
	log := newStateLog()
	if cfg.MachineCode == "" {
		cfg.MachineCode = "CT0700026"
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	cfg.OnState = log.record
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunAgent(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunAgent: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Error("RunAgent did not return after its context ended")
		}
	})
	return log
}

// get fetches url and returns the status and body.
func get(t testing.TB, client *http.Client, url string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// waitGoroutines waits until no more than want goroutines run, and fails
// with their stacks if that does not happen in time.
func waitGoroutines(t testing.TB, want int) {
	t.Helper()
	deadline := time.After(waitTimeout)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return
		}
		select {
		case <-poll.C:
		case <-deadline:
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines still run, want at most %d:\n%s", n, want, buf)
		}
	}
}

// hello answers every request with who it is and what it was asked.
func hello(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s", name, r.Method, r.URL.RequestURI())
	})
}
