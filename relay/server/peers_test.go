package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"casefleet/relay/config"
	"casefleet/relay/relaytest"
	"casefleet/shared/testenv"
)

// peerConfig is a relay of a group sharing the local Redis under a key
// prefix of the test's own.
func peerConfig(t *testing.T, f *relaytest.Fleet, prefix, id string) config.Config {
	cfg := f.Config(t)
	cfg.RedisURL = "redis://" + testenv.RedisAddr(t)
	cfg.RedisPrefix = prefix
	cfg.InstanceID = id
	cfg.LeaseTTL = time.Second
	return cfg
}

func testPrefix() string {
	var b [6]byte
	rand.Read(b[:])
	return "casefleet-test:" + hex.EncodeToString(b[:]) + ":"
}

// TestPeerRelayForwardsToTheHolder: the agent is on A, the phone on B.
func TestPeerRelayForwardsToTheHolder(t *testing.T) {
	f := relaytest.NewFleet(t)
	prefix := testPrefix()
	a := relaytest.StartRelay(t, peerConfig(t, f, prefix, "relay-a"))
	b := relaytest.StartRelay(t, peerConfig(t, f, prefix, "relay-b"))
	startKiosk(t, f, a.URL, newKiosk("CT0700026", "East", "mall-3f"))
	relaytest.WaitRoutable(t, b.URL, "CT0700026")

	status, _, body := do(t, "GET", b.URL+api+"CT0700026/headers", nil, "X-Forwarded-For", "198.51.100.7")
	var got map[string]string
	json.Unmarshal([]byte(body), &got)
	// The test is the load balancer in front of B here (loopback is
	// trusted), so the agent sees the customer, B and A's hop.
	if status != 200 || got["served_by"] != "CT0700026" || got["hop"] != "" ||
		!strings.HasPrefix(got["xff"], "198.51.100.7, 127.0.0.1") {
		t.Errorf("via B = %d %v", status, got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), relaytest.Wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+b.Addr+api+"CT0700026/events?sessionId=S", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ws.Write(ctx, websocket.MessageText, []byte("ping"))
	if _, msg, err := ws.Read(ctx); err != nil || string(msg) != "CT0700026 echo: ping" {
		t.Fatalf("WebSocket via B: %q %v", msg, err)
	}

	var list struct{ Machines []struct{ Code, Name string } }
	_, _, body = do(t, "GET", b.URL+"/api/machines", nil)
	json.Unmarshal([]byte(body), &list)
	if len(list.Machines) != 1 || list.Machines[0].Name != "East" {
		t.Errorf("B's /api/machines = %s", body)
	}
	// B knows the machine through the directory: when it goes, B says
	// offline, not unknown.
	a.Stop(t)
	relaytest.Eventually(t, relaytest.Wait, "B answers offline", func() bool {
		status, _, body := do(t, "GET", b.URL+api+"CT0700026/status", nil)
		return status == 503 && strings.Contains(body, "machine_offline")
	})
}

// TestStaleTunnelIsClosedWhenAnotherRelayTakesOver: the agent's link to
// A dies silently and it reconnects to B; A learns from the directory and
// drops the stale tunnel, and forwards to B meanwhile.
func TestStaleTunnelIsClosedWhenAnotherRelayTakesOver(t *testing.T) {
	f := relaytest.NewFleet(t)
	prefix := testPrefix()
	cfgA := peerConfig(t, f, prefix, "relay-a")
	cfgA.KeepAlive = time.Hour // A must learn of it from the directory
	a := relaytest.StartRelay(t, cfgA)
	b := relaytest.StartRelay(t, peerConfig(t, f, prefix, "relay-b"))
	token := f.Token(t, "CT0700026", "mall-3f")

	link := relaytest.StartFaultProxy(t, a.Addr)
	old := relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: link.URL(), Code: "CT0700026", Token: token,
		Handler: relaytest.Echo("old"), KeepAlive: time.Hour})
	relaytest.WaitRoutable(t, a.URL, "CT0700026")
	link.Stall()

	relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: b.URL, Code: "CT0700026", Token: token, Handler: relaytest.Echo("new")})
	select {
	case <-link.UpstreamClosed:
	case <-time.After(relaytest.Wait):
		t.Fatal("A kept the stale tunnel")
	}
	relaytest.Eventually(t, relaytest.Wait, "A forwards to B", func() bool {
		_, _, body := do(t, "GET", a.URL+api+"CT0700026/x", nil)
		return strings.HasPrefix(body, "new ")
	})
	old.Stop()
}

func TestReadyzFollowsRedis(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := peerConfig(t, f, testPrefix(), "relay-a")
	good := relaytest.StartRelay(t, cfg)
	cfg.RedisURL = "redis://127.0.0.1:1"
	bad := relaytest.StartRelay(t, cfg)
	if status, _, body := do(t, "GET", good.URL+"/readyz", nil); status != http.StatusOK {
		t.Errorf("readyz with Redis = %d %s", status, body)
	}
	if status, _, body := do(t, "GET", bad.URL+"/readyz", nil); status != http.StatusServiceUnavailable {
		t.Errorf("readyz without Redis = %d %s", status, body)
	}
	if status, _, _ := do(t, "GET", bad.URL+"/healthz", nil); status != http.StatusOK {
		t.Errorf("healthz without Redis = %d", status)
	}
}
