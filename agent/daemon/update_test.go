package daemon_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/agent/daemon"
	"casefleet/agent/dashboard"
	"casefleet/agent/update"
	"casefleet/shared/enroll"
	"casefleet/shared/release"
	"casefleet/shared/release/releasetest"
	"casefleet/shared/tunnel"
)

// The assembled agent asks the relay which version to run over a stream
// of its tunnel as soon as the tunnel is up, with its version and
// platform; after its start it passes its health checks (queue, data dir,
// printer link, tunnel) into health.json; and the operator API that the
// dashboard and `casefleet-agent status` read carries the update state.
func TestTheAgentAsksTheRelayForUpdatesAndIsHealthy(t *testing.T) {
	pub, priv, _ := enroll.GenerateKey()
	v := &enroll.Verifier{PublicKey: pub}
	asked := make(chan url.Values, 10)
	updates := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := tunnel.ConnFromContext(r.Context()); r.URL.Path != "/relay/v1/update" || c == nil || c.Machine() != "CT0700026" {
			http.NotFound(w, r)
			return
		}
		asked <- r.URL.Query()
		w.Write([]byte(`{"target": ""}`))
	})
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := tunnel.Accept(w, r, tunnel.AcceptOptions{
			Authenticate: func(_ *http.Request, code, tok string) (enroll.Claims, error) { return v.VerifyFor(code, tok) },
			AgentHandler: updates,
		})
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}))
	t.Cleanup(relay.Close)

	sim := agenttest.StartSim(t, agenttest.SimOptions{})
	cfg := sim.AgentConfig("CT0700026", t.TempDir())
	cfg.Relay.URL = relay.URL
	cfg.Relay.Token, _ = enroll.Issue(priv, enroll.Claims{Machine: "CT0700026"})
	cfg.LAN.OperatorPIN = "246810"
	keys, _, _ := releasetest.Keys(t)
	cfg.Update.Enabled, cfg.Update.ReleasePub = true, filepath.Join(keys, release.PublicKeyFile)
	format := filepath.Join(keys, update.FormatFileName)
	os.WriteFile(format, []byte("deb\n"), 0o644)
	platform, err := update.Platform(format)
	if err != nil {
		t.Skipf("no release platform here: %v", err)
	}
	agent := agenttest.StartAgentWith(t, cfg, daemon.Options{UpdateFormatFile: format})

	select {
	case q := <-asked:
		if q.Get("version") != "test" || q.Get("platform") != platform {
			t.Errorf("the agent asked with %v", q)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the agent did not ask the relay for updates")
	}
	var st dashboard.State
	agenttest.Eventually(t, 20*time.Second, "the update state and health", func() bool {
		req, _ := http.NewRequest(http.MethodGet, agent.URL+"/operator/api/state", nil)
		req.Header.Set("Authorization", "Bearer 246810")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		agenttest.MustJSON(t, resp, &st)
		return st.Update != nil && st.Update.State == update.StateCurrent
	})
	if u := st.Update; u.Version != "test" || u.Platform != platform || !u.Enabled || u.Attention {
		t.Errorf("update state %+v", u)
	}
	var h update.Health
	agenttest.Eventually(t, 20*time.Second, "health.json", func() bool {
		b, err := os.ReadFile(filepath.Join(cfg.DataDir, "update", update.HealthFile))
		return err == nil && json.Unmarshal(b, &h) == nil
	})
	if !h.Healthy || h.Version != "test" || len(h.Checks) != 4 {
		t.Errorf("health.json: %+v", h)
	}
}

// releaseAPI is a relay's update API for the tests here: the offer, the
// releases, the reports.
type releaseAPI struct {
	mu      sync.Mutex
	offer   []byte
	files   map[string][]byte
	reports chan string
}

func (a *releaseAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/relay/v1/update":
		a.mu.Lock()
		defer a.mu.Unlock()
		w.Write(a.offer)
	case r.URL.Path == "/relay/v1/update/report":
		var rep struct{ Version, From, State, Reason string }
		json.NewDecoder(r.Body).Decode(&rep)
		a.reports <- rep.State + " " + rep.Version + " " + rep.Reason
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(r.URL.Path, "/relay/v1/releases/"):
		a.mu.Lock()
		b, ok := a.files[strings.TrimPrefix(r.URL.Path, "/relay/v1/releases/")]
		a.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(b))
	default:
		http.NotFound(w, r)
	}
}

// put signs a release of version for platform and serves it.
func (a *releaseAPI) put(t *testing.T, priv ed25519.PrivateKey, version, platform string) []byte {
	pkg := []byte("the package of " + version)
	sum := sha256.Sum256(pkg)
	file := "casefleet-agent_" + strings.TrimPrefix(version, "v") + "_" + strings.Split(platform, "-")[1] + ".deb"
	signed, err := release.Sign(priv, release.Manifest{Version: version, Packages: []release.Package{
		{Platform: platform, File: file, Size: int64(len(pkg)), SHA256: hex.EncodeToString(sum[:])}}})
	if err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	a.files[version+"/manifest.json"], a.files[version+"/"+file] = signed, pkg
	a.mu.Unlock()
	return signed
}

// The assembled agent does not hand an update over while an order is at
// the printer: it waits, says why, and hands over (request.json) once the
// order has printed and the line is empty. The queue keeps the order.
func TestTheAgentWaitsForTheLineToEmptyBeforeUpdating(t *testing.T) {
	api := &releaseAPI{offer: []byte(`{"target": ""}`), files: map[string][]byte{}, reports: make(chan string, 20)}
	pub, priv, _ := enroll.GenerateKey()
	v := &enroll.Verifier{PublicKey: pub}
	var current atomic.Pointer[tunnel.Conn]
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := tunnel.Accept(w, r, tunnel.AcceptOptions{
			Authenticate: func(_ *http.Request, code, tok string) (enroll.Claims, error) { return v.VerifyFor(code, tok) },
			AgentHandler: api,
		})
		if err == nil {
			current.Store(c)
			t.Cleanup(func() { c.Close() })
		}
	}))
	t.Cleanup(relay.Close)

	sim := agenttest.StartSim(t, agenttest.SimOptions{PayDelay: -1, PrintTime: 100 * time.Millisecond})
	cfg := sim.AgentConfig("CT0700026", t.TempDir())
	cfg.Relay.URL = relay.URL
	cfg.Relay.Token, _ = enroll.Issue(priv, enroll.Claims{Machine: "CT0700026"})
	keys, _, rpriv := releasetest.Keys(t)
	cfg.Update.Enabled, cfg.Update.ReleasePub = true, filepath.Join(keys, release.PublicKeyFile)
	format := filepath.Join(keys, update.FormatFileName)
	os.WriteFile(format, []byte("deb\n"), 0o644)
	platform, err := update.Platform(format)
	if err != nil {
		t.Skipf("no release platform here: %v", err)
	}
	api.put(t, rpriv, "v1.5.0", platform)
	newSigned := api.put(t, rpriv, "v1.6.0", platform)

	ctx, cancel := context.WithCancel(context.Background())
	ready, exited := make(chan string, 1), make(chan error, 1)
	go func() {
		exited <- daemon.Run(ctx, cfg, daemon.Options{Version: "v1.5.0", Logger: agenttest.Logger(t, "agent"), UpdateFormatFile: format,
			Ready: func(addr string) { ready <- addr }})
	}()
	t.Cleanup(func() { cancel(); <-exited })
	var lan string
	select {
	case lan = <-ready:
	case err := <-exited:
		t.Fatalf("agent: %v", err)
	}
	phone := agenttest.NewCustomer(t, "http://"+lan+"/api/chitu/machine/CT0700026")
	agenttest.Eventually(t, 20*time.Second, "tunnel up", func() bool { return current.Load() != nil })

	// An order reaches the printer and waits there for payment.
	o := phone.Order(t, phone.FirstProduct(t))
	agenttest.Eventually(t, 20*time.Second, "the order at the printer", func() bool {
		orders := sim.Orders(t, "CT0700026")
		return len(orders) == 1 && orders[0].Status == "pending"
	})
	// The relay now offers v1.6.0; the agent learns it at its next
	// connection.
	offer, _ := json.Marshal(map[string]any{"target": "v1.6.0", "manifest": string(newSigned)})
	api.mu.Lock()
	api.offer = offer
	api.mu.Unlock()
	current.Load().Close()
	for _, want := range []string{"downloading v1.6.0", "ready v1.6.0"} {
		select {
		case got := <-api.reports:
			if !strings.HasPrefix(got, want) {
				t.Fatalf("report %q, want %q", got, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no %q report", want)
		}
	}
	request := filepath.Join(cfg.DataDir, "update", update.RequestFile)
	if _, err := os.Stat(request); err == nil {
		t.Fatal("request.json written with an order at the printer")
	}
	// The customer pays; the case prints; the line is empty: hand-over.
	sim.Admin(t, http.MethodPost, "/admin/orders/"+sim.Orders(t, "CT0700026")[0].ID+"/pay", nil, nil)
	phone.WaitStatus(t, o.ID, "complete", 20*time.Second)
	select {
	case got := <-api.reports:
		if !strings.HasPrefix(got, "installing v1.6.0") {
			t.Fatalf("report %q, want installing", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("not handed over once the line was empty")
	}
	var req update.Request
	b, _ := os.ReadFile(request)
	if json.Unmarshal(b, &req) != nil || req.Version != "v1.6.0" || req.From != "v1.5.0" || req.Platform != platform {
		t.Errorf("request.json: %s", b)
	}
	if got := phone.WaitStatus(t, o.ID, "complete", time.Second); got.PickupCode == "" {
		t.Errorf("the order after the hand-over: %+v", got)
	}
}
