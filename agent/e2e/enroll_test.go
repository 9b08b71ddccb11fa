package e2e

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefleet/shared/enroll"
	"casefleet/shared/testenv"
	"casefleet/shared/tunnel"
)

// testRelay accepts tunnels like the relay does: fleet key, token bound to
// the machine code.
func testRelay(t *testing.T, pub []byte) (*httptest.Server, chan string) {
	t.Helper()
	verifier := &enroll.Verifier{PublicKey: pub}
	accepted := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := tunnel.Accept(w, r, tunnel.AcceptOptions{
			Authenticate: func(r *http.Request, code, token string) (enroll.Claims, error) {
				return verifier.VerifyFor(code, token)
			},
			PublicURL: "https://relay.example.com",
		})
		if err != nil {
			return
		}
		accepted <- conn.Machine()
		t.Cleanup(func() { conn.Close() })
	}))
	t.Cleanup(srv.Close)
	return srv, accepted
}

// enroll checks the token with the relay, writes it into the config with
// the machine it names, and the agent then tunnels with it.
func TestEnrollWritesAWorkingConfig(t *testing.T) {
	pub, priv, err := enroll.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	relay, accepted := testRelay(t, pub)
	token, err := enroll.Issue(priv, enroll.Claims{Machine: code, Location: "mall-3f"})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfgPath, []byte("# set by the technician\nmachine:\n  name: Mall 3F\n"), 0o640)

	out, exit := runAgentCLI(t, nil, "enroll", "--relay", relay.URL, "--token", token, "--config", cfgPath, "--no-start")
	if exit != 0 || !strings.Contains(out, "the relay accepts it") || !strings.Contains(out, "https://relay.example.com") {
		t.Fatalf("enroll: exit %d\n%s", exit, out)
	}
	if m := <-accepted; m != code {
		t.Fatalf("the relay saw %s", m)
	}
	raw, _ := os.ReadFile(cfgPath)
	for _, want := range []string{"# set by the technician", "name: Mall 3F", "code: " + code, "location: mall-3f", "url: " + relay.URL, "token: " + token} {
		if !strings.Contains(string(raw), want) {
			t.Fatalf("config lacks %q:\n%s", want, raw)
		}
	}

	// doctor agrees.
	s := startSim(t, []string{code})
	env := agentEnv(code, t.TempDir(), testenv.FreeAddr(t), s.URL, "tcp://"+s.mqttAddr())
	out, exit = runAgentCLI(t, env, "doctor", "--config", cfgPath)
	if exit != 0 || !strings.Contains(out, "[ok  ] relay") {
		t.Fatalf("doctor after enroll: exit %d\n%s", exit, out)
	}
	<-accepted

	// The agent runs with that file (and the printer settings) and tunnels.
	startProc(t, "casefleet-agent", env, "run", "--config", cfgPath)
	select {
	case m := <-accepted:
		if m != code {
			t.Fatalf("tunnel for %s", m)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the enrolled agent did not open its tunnel within 20s")
	}
}

func TestEnrollRefusesABadToken(t *testing.T) {
	pub, _, _ := enroll.GenerateKey()
	_, otherFleet, _ := enroll.GenerateKey()
	relay, _ := testRelay(t, pub)
	forged, _ := enroll.Issue(otherFleet, enroll.Claims{Machine: code})
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	tests := []struct {
		name, token, want string
	}{
		{"garbage", "not-a-token", "cannot be read"},
		{"another fleet's key", forged, "the relay refused the token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, exit := runAgentCLI(t, nil, "enroll", "--relay", relay.URL, "--token", tt.token, "--config", cfgPath, "--no-start")
			if exit != 1 || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d, want 1 and %q:\n%s", exit, tt.want, out)
			}
			if _, err := os.Stat(cfgPath); err == nil {
				t.Fatal("a refused token was written to the config")
			}
		})
	}
	out, exit := runAgentCLI(t, nil, "enroll", "--relay", "http://"+testenv.FreeAddr(t), "--token", forged, "--config", cfgPath, "--no-start")
	if exit != 1 || !strings.Contains(out, "cannot reach the relay") {
		t.Fatalf("unreachable relay: exit %d\n%s", exit, out)
	}
}
