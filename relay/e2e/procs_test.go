// Package e2e tests the relay as a process: killed and restarted, two of
// them over Redis behind a load balancer, links between agent and relay
// cut, and its command line. Agents and the printer simulator run in the
// test process; the relay is the real binary.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/coder/websocket"

	"casefleet/agent/agenttest"
	"casefleet/relay/relaytest"
	"casefleet/shared/testenv"
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
	if err := testenv.Build(dir, "casefleet/relay/cmd/casefleet-relay"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// relayProc is a running casefleet-relay.
type relayProc struct {
	*testenv.Process
	addr string
}

func (r *relayProc) URL() string { return "http://" + r.addr }

// startRelayProc runs `casefleet-relay run` on addr with the fleet's key,
// no rate limits, a 5 s keepalive and extra flags, and waits until ready.
func startRelayProc(t *testing.T, f *relaytest.Fleet, addr string, extra ...string) *relayProc {
	t.Helper()
	args := append([]string{"run", "--listen", addr, "--fleet-pub", f.PubFile, "--public-url", "http://" + addr,
		"--keepalive", "5s", "--rate-ip", "0", "--rate-session", "0", "--log-level", "debug"}, extra...)
	r := &relayProc{Process: testenv.StartProcess(t, "relay "+addr, relayBin, nil, args...), addr: addr}
	r.waitReady(t)
	return r
}

// restart starts the relay again after Kill, with the same command line.
func (r *relayProc) restart(t *testing.T) {
	t.Helper()
	r.Start(t)
	r.waitReady(t)
}

func (r *relayProc) waitReady(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, relaytest.Wait, "relay "+r.addr+" ready", func() bool {
		resp, err := http.Get(r.URL() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

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
