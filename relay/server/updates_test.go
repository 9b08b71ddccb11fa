package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefleet/relay/fleet"
	"casefleet/relay/relaytest"
	"casefleet/relay/server"
	"casefleet/relay/updates"
	"casefleet/shared/release"
	"casefleet/shared/release/releasetest"
	"casefleet/shared/tunnel"
)

// agentAsk sends the agent's own request to the relay over its tunnel.
func agentAsk(t *testing.T, rc *tunnel.RelayClient, method, path string, body []byte, header ...string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), relaytest.Wait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, "http://relay"+path, bytes.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := rc.Do(req)
	if err != nil {
		t.Fatalf("%s %s over the tunnel: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// The agents' update API on a real relay, through real tunnels: a
// machine in the rollout is offered the target's signed manifest and
// downloads its package (resuming with Range); reports are counted, and
// two failures halt the rollout for the machines not yet on it. The
// fleet owner reads the state with an admin token; the API is not
// reachable from the public side.
func TestAgentsUpdateThroughTheRelay(t *testing.T) {
	f := relaytest.NewFleet(t)
	keys, pub, priv := releasetest.Keys(t)
	releases := t.TempDir()
	pkg := bytes.Repeat([]byte("deb "), 5000)
	os.MkdirAll(filepath.Join(releases, "v1.6.0"), 0o755)
	os.WriteFile(filepath.Join(releases, "v1.6.0", "casefleet-agent_1.6.0_amd64.deb"), pkg, 0o644)
	sum := sha256.Sum256(pkg)
	signed, _ := release.Sign(priv, release.Manifest{Version: "v1.6.0", Packages: []release.Package{{
		Platform: release.LinuxAMD64Deb, File: "casefleet-agent_1.6.0_amd64.deb", Size: int64(len(pkg)), SHA256: hex.EncodeToString(sum[:]),
	}}})
	os.WriteFile(filepath.Join(releases, "v1.6.0", updates.ManifestName("v1.6.0")), signed, 0o644)
	rolloutFile := filepath.Join(t.TempDir(), "rollout.yaml")
	(updates.Rollout{Target: "v1.6.0", Canaries: []string{"CT0700026", "CT0700027", "CT0700028"}, HaltAfter: 2}).Save(rolloutFile)

	cfg := f.Config(t)
	cfg.ReleasesDir, cfg.ReleasePub, cfg.Rollout = releases, filepath.Join(keys, release.PublicKeyFile), rolloutFile
	relay := relaytest.StartRelay(t, cfg)
	clients := map[string]*tunnel.RelayClient{}
	for _, code := range []string{"CT0700026", "CT0700027", "CT0700028", "CT0700099"} {
		clients[code] = tunnel.NewRelayClient()
		relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: relay.URL, Code: code, Token: f.Token(t, code, "mall-3f"),
			Version: "v1.5.0", RelayClient: clients[code]})
		relaytest.WaitRoutable(t, relay.URL, code)
	}
	decide := func(code string) updates.Decision {
		t.Helper()
		status, body := agentAsk(t, clients[code], "GET", "/relay/v1/update?version=v1.5.0&platform=linux-amd64-deb", nil)
		var d updates.Decision
		if err := json.Unmarshal(body, &d); status != 200 || err != nil {
			t.Fatalf("%s: update = %d %s", code, status, body)
		}
		return d
	}

	d := decide("CT0700026")
	if d.Target != "v1.6.0" {
		t.Fatalf("a canary: %+v, want v1.6.0", d)
	}
	m, err := release.Verify(pub, []byte(d.Manifest))
	if err != nil {
		t.Fatalf("offered manifest: %v", err)
	}
	p, _ := m.For(release.LinuxAMD64Deb)
	status, part := agentAsk(t, clients["CT0700026"], "GET", "/relay/v1/releases/v1.6.0/"+p.File, nil, "Range", "bytes=0-9999")
	if status != http.StatusPartialContent || len(part) != 10000 {
		t.Fatalf("first part: %d, %d bytes", status, len(part))
	}
	status, rest := agentAsk(t, clients["CT0700026"], "GET", "/relay/v1/releases/v1.6.0/"+p.File, nil, "Range", "bytes=10000-")
	if status != http.StatusPartialContent || p.Check(bytes.NewReader(append(part, rest...))) != nil {
		t.Fatalf("the resumed download is not the package: %d", status)
	}
	for _, bad := range []string{"/relay/v1/releases/v1.6.0/rollout.yaml", "/relay/v1/releases/v1.6.0/..%2fmanifest.json", "/relay/v1/releases/v9.9.9/manifest.json"} {
		if status, _ := agentAsk(t, clients["CT0700026"], "GET", bad, nil); status != http.StatusNotFound && status != http.StatusBadRequest {
			t.Errorf("GET %s = %d, want 404", bad, status)
		}
	}
	if d := decide("CT0700099"); d.Target != "" {
		t.Errorf("a machine outside the rollout: %+v", d)
	}

	report := func(code, state string) int {
		b, _ := json.Marshal(updates.Report{Version: "v1.6.0", From: "v1.5.0", State: state, Reason: "test"})
		status, _ := agentAsk(t, clients[code], "POST", "/relay/v1/update/report", b)
		return status
	}
	for _, bad := range []string{`{"version":"v1.6.0","state":"exploded"}`, `not json`, `{"version":"x y","state":"healthy"}`, `{"version":"v1.6.0","state":"healthy","extra":1}`} {
		if status, _ := agentAsk(t, clients["CT0700026"], "POST", "/relay/v1/update/report", []byte(bad)); status != http.StatusBadRequest {
			t.Errorf("report %s = %d, want 400", bad, status)
		}
	}
	if report("CT0700026", updates.StateRolledBack) != http.StatusNoContent {
		t.Fatal("report refused")
	}
	if d := decide("CT0700028"); d.Target != "v1.6.0" {
		t.Errorf("after one failure of two: %+v, want still offered", d)
	}
	report("CT0700027", updates.StateFailed)
	if d := decide("CT0700028"); d.Target != "" || !d.Halted {
		t.Errorf("after two failures: %+v, want halted", d)
	}

	// The fleet owner's view, with an admin token; nobody else's.
	keyDir := filepath.Dir(f.PubFile)
	token, _, err := fleet.IssueAdmin(fleet.AdminRequest{KeyFile: filepath.Join(keyDir, "fleet.key"), Name: "owner"})
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := do(t, "GET", relay.URL+"/relay/v1/rollout", nil, "Authorization", "Bearer "+token)
	var st server.RolloutStatus
	if err := json.Unmarshal([]byte(body), &st); status != 200 || err != nil || !st.Halted || st.Machines[updates.StateRolledBack] != 1 || st.Failed["CT0700027"] != updates.StateFailed {
		t.Errorf("rollout status = %d %s", status, body)
	}
	if status, _, _ := do(t, "GET", relay.URL+"/relay/v1/rollout", nil); status != http.StatusUnauthorized {
		t.Errorf("rollout status without a token = %d", status)
	}
	if status, _, _ := do(t, "GET", relay.URL+"/relay/v1/rollout", nil, "Authorization", "Bearer "+f.Token(t, "CT0700026", "mall-3f")); status != http.StatusUnauthorized {
		t.Errorf("rollout status with a kiosk's token = %d", status)
	}
	// The update API is on the agents' streams only.
	for _, p := range []string{"/relay/v1/update", "/relay/v1/releases/v1.6.0/manifest.json"} {
		if status, _, _ := do(t, "GET", relay.URL+p, nil); status != http.StatusNotFound {
			t.Errorf("GET %s from outside = %d, want 404", p, status)
		}
	}
	if !strings.Contains(metricsOf(t, relay.URL), `casefleet_relay_rollout_halted{version="v1.6.0"} 1`) {
		t.Error("metrics do not say the rollout halted")
	}
}

func metricsOf(t *testing.T, base string) string {
	t.Helper()
	_, _, body := do(t, "GET", base+"/metrics", nil)
	return body
}

// When the rollout file brings another rollout, the relay tells each
// agent on its tunnels to ask again (POST /relay/v1/update/check), so
// that a kiosk learns its new target at once, not at its next question.
func TestTheRelayTellsItsAgentsWhenTheRolloutChanges(t *testing.T) {
	f := relaytest.NewFleet(t)
	keys, _, _ := releasetest.Keys(t)
	rolloutFile := filepath.Join(t.TempDir(), "rollout.yaml")
	(updates.Rollout{Target: "v1.6.0", Percent: 10}).Save(rolloutFile)
	cfg := f.Config(t)
	cfg.ReleasesDir, cfg.ReleasePub, cfg.Rollout = t.TempDir(), filepath.Join(keys, release.PublicKeyFile), rolloutFile
	relay := relaytest.StartRelay(t, cfg)

	told := make(chan string, 4)
	for _, code := range []string{"CT0700026", "CT0700027"} {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/relay/v1/update/check" {
				told <- code
				w.WriteHeader(http.StatusAccepted)
				return
			}
			io.WriteString(w, code)
		})
		relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: relay.URL, Code: code, Token: f.Token(t, code, "mall-3f"), Handler: h})
		relaytest.WaitRoutable(t, relay.URL, code)
	}
	relay.Server.ReloadRollout() // unchanged: nobody is told
	(updates.Rollout{Target: "v1.6.0", Percent: 50}).Save(rolloutFile)
	relay.Server.ReloadRollout()
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case code := <-told:
			got[code] = true
		case <-time.After(relaytest.Wait):
			t.Fatalf("agents told of the new rollout: %v, want both", got)
		}
	}
	select {
	case code := <-told:
		t.Errorf("%s was told twice (or told of an unchanged file)", code)
	default:
	}
}
