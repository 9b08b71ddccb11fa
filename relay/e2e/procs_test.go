// Package e2e tests the relay as a process: killed and restarted, two of
// them over Redis behind a load balancer, links between agent and relay
// cut, and its command line. Agents and the printer simulator run in the
// test process; the relay is the real binary.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/coder/websocket"

	"casefleet/agent/agenttest"
	"casefleet/relay/relaytest"
)

// relayBin is the relay binary TestMain builds once.
var relayBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "casefleet-relay-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	relayBin = filepath.Join(dir, "casefleet-relay")
	cmd := exec.Command("go", "build", "-o", relayBin, "casefleet/relay/cmd/casefleet-relay")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build casefleet-relay:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// relayProc is a running casefleet-relay.
type relayProc struct {
	addr string
	args []string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

func (r *relayProc) URL() string { return "http://" + r.addr }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startRelayProc runs `casefleet-relay run` on addr with the fleet's key,
// no rate limits, a 5 s keepalive and extra flags, and waits until ready.
func startRelayProc(t *testing.T, f *relaytest.Fleet, addr string, extra ...string) *relayProc {
	t.Helper()
	args := append([]string{"run", "--listen", addr, "--fleet-pub", f.PubFile, "--public-url", "http://" + addr,
		"--keepalive", "5s", "--rate-ip", "0", "--rate-session", "0", "--log-level", "debug"}, extra...)
	r := &relayProc{addr: addr, args: args, log: &syncBuffer{}}
	r.start(t)
	t.Cleanup(func() {
		r.kill()
		if t.Failed() {
			t.Logf("--- relay %s output ---\n%s", addr, r.log.String())
		}
	})
	return r
}

func (r *relayProc) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command(relayBin, r.args...)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	r.done = make(chan struct{})
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	relaytest.Eventually(t, relaytest.Wait, "relay "+r.addr+" ready", func() bool {
		resp, err := http.Get(r.URL() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// kill sends SIGKILL and waits for the process to be gone.
func (r *relayProc) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		<-r.done
	}
}

func (r *relayProc) signal(sig syscall.Signal) { r.cmd.Process.Signal(sig) }

// startAgent runs a real agent for code against the simulator, tunnelled
// to relayURL.
func startAgent(t *testing.T, sim *agenttest.Sim, f *relaytest.Fleet, code, location, relayURL string) *agenttest.Agent {
	t.Helper()
	cfg := sim.AgentConfig(code, t.TempDir())
	cfg.Machine.Location = location
	cfg.Relay.URL = relayURL
	cfg.Relay.Token = f.Token(t, code, location)
	return agenttest.StartAgent(t, cfg)
}

const api = "/api/chitu/machine/"

// simOrders returns the simulator's orders for code.
func simOrders(t *testing.T, sim *agenttest.Sim, code string) []string {
	var ids []string
	for _, o := range sim.Orders(t, code) {
		ids = append(ids, o.ID+":"+o.Status)
	}
	return ids
}

// payWhenAwaiting waits until the simulator holds the machine's only
// order waiting for payment, and pays it.
func payWhenAwaiting(t *testing.T, sim *agenttest.Sim, code string) {
	t.Helper()
	var id string
	relaytest.Eventually(t, relaytest.Wait, code+": an order awaits payment at the simulator", func() bool {
		for _, o := range sim.Orders(t, code) {
			if o.PayStatus != "paid" {
				id = o.ID
				return true
			}
		}
		return false
	})
	sim.Admin(t, http.MethodPost, "/admin/orders/"+id+"/pay", nil, nil)
}

// event is one message of the events WebSocket.
type event struct {
	ID   uint64          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

func (e event) orderStatus() string {
	var o struct{ Status string }
	json.Unmarshal(e.Data, &o)
	return o.Status
}

// readEvents reads events from the stream at url until one is an order
// update with status "complete", or the stream breaks.
func readEvents(ctx context.Context, rawURL string, got func(event)) (complete bool, err error) {
	ws, _, err := websocket.Dial(ctx, rawURL, nil)
	if err != nil {
		return false, err
	}
	defer ws.CloseNow()
	for {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			return false, err
		}
		var ev event
		if err := json.Unmarshal(msg, &ev); err != nil {
			return false, err
		}
		got(ev)
		if ev.Type == "orderUpdate" && ev.orderStatus() == "complete" {
			return true, nil
		}
	}
}

func wsURL(base, path string, q url.Values) string {
	u, _ := url.Parse(base)
	u.Scheme = "ws"
	u.Path = path
	u.RawQuery = q.Encode()
	return u.String()
}

func idsAfter(evs []event, after, upTo uint64) []uint64 {
	seen := map[uint64]bool{}
	var out []uint64
	for _, e := range evs {
		if e.ID > after && e.ID <= upTo && !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e.ID)
		}
	}
	return out
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func drain(resp *http.Response) {
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
