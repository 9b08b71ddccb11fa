package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"casefleet/shared/enroll"
	"casefleet/shared/tunnel"
)

// env is the relay process and what it needs.
type env struct {
	dir   string
	priv  ed25519.PrivateKey
	addr  string
	relay *exec.Cmd
	done  chan struct{}
	bin   string
	kept  []*agent // connected agents handed from one figure to the next
}

func newEnv(ctx context.Context, bin string) (*env, error) {
	dir, err := os.MkdirTemp("", "casefleet-loadtest")
	if err != nil {
		return nil, err
	}
	pub, priv, err := enroll.GenerateKey()
	if err != nil {
		return nil, err
	}
	if err := enroll.WriteKeyPair(filepath.Join(dir, "fleet"), pub, priv); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	e := &env{dir: dir, priv: priv, addr: addr, bin: bin}
	return e, e.startRelay(ctx)
}

func (e *env) relayURL() string { return "http://" + e.addr }

// startRelay runs the relay and waits until it is ready.
func (e *env) startRelay(ctx context.Context) error {
	_, err := e.startRelayTimed(ctx)
	return err
}

// startRelayTimed runs the relay, waits until it is ready and returns
// when it first answered /readyz (polled every 5 ms).
func (e *env) startRelayTimed(ctx context.Context) (ready time.Time, err error) {
	e.relay = exec.Command(e.bin, "run", "--listen", e.addr, "--public-url", e.relayURL(),
		"--fleet-pub", filepath.Join(e.dir, "fleet", enroll.PublicKeyFile),
		"--rate-ip", "0", "--rate-session", "0", "--max-streams-ip", "0", "--max-streams-session", "0", "--log-level", "warn")
	log, err := os.OpenFile(filepath.Join(e.dir, "relay.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return time.Time{}, err
	}
	e.relay.Stdout, e.relay.Stderr = log, log
	if err := e.relay.Start(); err != nil {
		return time.Time{}, err
	}
	e.done = make(chan struct{})
	go func() { e.relay.Wait(); log.Close(); close(e.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(e.relayURL() + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Now(), nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-e.done:
			return time.Time{}, errors.New("the relay exited; see " + filepath.Join(e.dir, "relay.log"))
		case <-time.After(5 * time.Millisecond):
		}
	}
	return time.Time{}, errors.New("the relay did not become ready")
}

func (e *env) killRelay() {
	e.relay.Process.Kill()
	<-e.done
}

// relayRSS is the relay's resident memory in bytes.
func (e *env) relayRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", e.relay.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

func (e *env) close() {
	e.killRelay()
	os.RemoveAll(e.dir)
}

func (e *env) token(code string) string {
	tok, err := enroll.Issue(e.priv, enroll.Claims{Machine: code, Location: "bench"})
	if err != nil {
		panic(err) // codes are made here and valid
	}
	return tok
}

// agent is a lightweight agent: a tunnel serving handler.
type agent struct {
	connected atomic.Int64 // times the tunnel came up
	upAt      atomic.Int64 // when it last came up, Unix nanoseconds
	up        atomic.Bool
	stop      context.CancelFunc
	done      chan struct{}
}

func (e *env) startAgent(code string, handler http.Handler) *agent {
	ctx, cancel := context.WithCancel(context.Background())
	a := &agent{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		tunnel.RunAgent(ctx, tunnel.AgentConfig{
			RelayURL: e.relayURL(), MachineCode: code, Token: e.token(code), Handler: handler,
			Logger: slog.New(slog.DiscardHandler),
			OnState: func(s tunnel.State) {
				if s.Connected {
					a.upAt.Store(time.Now().UnixNano())
					a.connected.Add(1)
				}
				a.up.Store(s.Connected)
			},
		})
	}()
	return a
}

func (a *agent) close() {
	a.stop()
	<-a.done
}

// kiosk is the agents' trivial handler: a small status, an upload sink,
// and an events WebSocket fed by broadcast.
type kiosk struct {
	mu   sync.Mutex
	subs map[chan []byte]bool
}

func newKiosk() *kiosk { return &kiosk{subs: map[chan []byte]bool{}} }

func (k *kiosk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/status"):
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"code":"CT0700026","name":"Bench","location":"bench","status":"online","queueLength":3}`)
	case strings.HasSuffix(r.URL.Path, "/upload"):
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d", n)
	case strings.HasSuffix(r.URL.Path, "/events"):
		k.events(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (k *kiosk) events(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ch := make(chan []byte, 64)
	k.mu.Lock()
	k.subs[ch] = true
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		delete(k.subs, ch)
		k.mu.Unlock()
	}()
	ctx := c.CloseRead(r.Context())
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-ch:
			if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
				return
			}
		}
	}
}

func (k *kiosk) subscribers() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.subs)
}

// broadcast sends msg to every subscriber (dropping it for one whose
// buffer is full, which the count of received events then shows).
func (k *kiosk) broadcast(msg []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for ch := range k.subs {
		select {
		case ch <- msg:
		default:
		}
	}
}

// waitFor polls cond every 20 ms until it holds or within passes.
func waitFor(ctx context.Context, within time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v: %s", within, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
