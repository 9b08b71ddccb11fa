package daemon_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/agent/daemon"
	"casefleet/agent/dashboard"
	"casefleet/agent/update"
	"casefleet/shared/enroll"
	"casefleet/shared/release"
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
	keys := t.TempDir()
	rpub, rpriv, _ := release.GenerateKey()
	release.WriteKeyPair(keys, rpub, rpriv)
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
		return st.Update != nil && st.Update.State == update.StateCurrent && st.Update.Health != nil
	})
	if u := st.Update; u.Version != "test" || u.Platform != platform || !u.Enabled || !u.Health.Healthy || u.Attention {
		t.Errorf("update state %+v, health %+v", u, u.Health)
	}
	var h update.Health
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, "update", update.HealthFile))
	if err != nil || json.Unmarshal(b, &h) != nil || !h.Healthy || h.Version != "test" || len(h.Checks) != 4 {
		t.Errorf("health.json: %s (%v)", b, err)
	}
}
