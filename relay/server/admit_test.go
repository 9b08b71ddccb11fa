package server_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"casefleet/relay/relaytest"
	"casefleet/shared/enroll"
	"casefleet/shared/tunnel"
)

// TestTunnelsAreAdmittedOnlyWithAValidToken: each bad token is refused
// with a reason the agent logs (and doctor shows).
func TestTunnelsAreAdmittedOnlyWithAValidToken(t *testing.T) {
	f := relaytest.NewFleet(t)
	other := relaytest.NewFleet(t) // another fleet: its tokens are forgeries here
	revokedToken := f.Token(t, "CT0700046", "station")
	claims, err := enroll.Verify(mustLoadPub(t, f), revokedToken, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	revFile := filepath.Join(t.TempDir(), "revoked")
	os.WriteFile(revFile, []byte("# withdrawn\njti:"+claims.ID+"\nmachine:CT0700050\n"), 0o644)
	cfg := f.Config(t)
	cfg.Revocations = revFile
	relay := relaytest.StartRelay(t, cfg)

	past := time.Now().Add(-48 * time.Hour)
	tests := []struct {
		name, code, token, refusal string
	}{
		{"token for another machine", "CT0700027", f.Token(t, "CT0700026", "mall-3f"), "wrong_machine"},
		{"forged token", "CT0700026", other.Token(t, "CT0700026", "mall-3f"), "token_invalid"},
		{"expired token", "CT0700026", f.TokenWith(t, enroll.Claims{Machine: "CT0700026", IssuedAt: past.Unix(), ExpiresAt: past.Add(time.Hour).Unix()}), "token_expired"},
		{"revoked token", "CT0700046", revokedToken, "token_revoked"},
		{"revoked machine", "CT0700050", f.Token(t, "CT0700050", ""), "token_revoked"},
		{"garbage", "CT0700026", "cf1.garbage", "token_malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: relay.URL, Code: tt.code, Token: tt.token})
			s := a.WaitState(t, "refused", func(s tunnel.State) bool { return s.Rejected })
			var re *tunnel.RefusedError
			if !errors.As(s.Err, &re) || re.Code != tt.refusal || re.Message == "" {
				t.Errorf("refusal = %v, want code %s with a reason", s.Err, tt.refusal)
			}
			t.Logf("the agent is told: %v", s.Err)
		})
	}
	// None of them is routed.
	status, _, _ := do(t, "GET", relay.URL+api+"CT0700027/status", nil)
	if status != http.StatusNotFound {
		t.Errorf("a refused machine is routed: %d", status)
	}
}

func mustLoadPub(t *testing.T, f *relaytest.Fleet) []byte {
	pub, err := enroll.LoadPublicKey(f.PubFile)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestRevokingClosesTheLiveTunnel: an edit of the revocation file takes
// the machine off the relay within the poll interval.
func TestRevokingClosesTheLiveTunnel(t *testing.T) {
	f := relaytest.NewFleet(t)
	revFile := filepath.Join(t.TempDir(), "revoked")
	os.WriteFile(revFile, nil, 0o644)
	cfg := f.Config(t)
	cfg.Revocations = revFile
	cfg.RevocationsPoll = 50 * time.Millisecond
	relay := relaytest.StartRelay(t, cfg)
	a := startKiosk(t, f, relay.URL, newKiosk("CT0700026", "East", "mall-3f"))

	if err := os.WriteFile(revFile, []byte("machine:CT0700026\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.WaitState(t, "refused as revoked", relaytest.Refused("token_revoked"))
	if status, _, _ := do(t, "GET", relay.URL+api+"CT0700026/status", nil); status != http.StatusServiceUnavailable {
		t.Errorf("a revoked machine answers %d, want 503", status)
	}
	// A broken edit keeps the list in force.
	os.WriteFile(revFile, []byte("nonsense\n"), 0o644)
	if err := relay.Server.ReloadRevocations(); err == nil {
		t.Error("a broken revocation file loads")
	}
	a.WaitState(t, "still refused", relaytest.Refused("token_revoked"))
}

// TestNewerTunnelReplacesTheOlder: a kiosk whose old link died silently
// reconnects and is served at once; the relay closes the old tunnel.
func TestNewerTunnelReplacesTheOlder(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.KeepAlive = time.Hour // the relay must not find the dead link by itself here
	relay := relaytest.StartRelay(t, cfg)
	token := f.Token(t, "CT0700026", "mall-3f")

	link := relaytest.StartFaultProxy(t, relay.Addr)
	old := relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: link.URL(), Code: "CT0700026", Token: token,
		Handler: relaytest.Echo("old"), KeepAlive: time.Hour})
	relaytest.WaitRoutable(t, relay.URL, "CT0700026")
	link.Stall() // the old link goes silent; nobody notices yet

	relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: relay.URL, Code: "CT0700026", Token: token, Handler: relaytest.Echo("new")})
	relaytest.Eventually(t, relaytest.Wait, "requests served by the new tunnel", func() bool {
		_, _, body := do(t, "GET", relay.URL+api+"CT0700026/x", nil)
		return strings.HasPrefix(body, "new ")
	})
	select {
	case <-link.UpstreamClosed:
	case <-time.After(relaytest.Wait):
		t.Fatal("the relay kept the old tunnel open")
	}
	old.Stop()
}

// TestGarbageOnTheTunnelEndpoint throws 1,000 bad handshakes and broken
// tunnels at /agent/connect: the relay drops each, keeps serving, and
// leaves nothing running.
func TestGarbageOnTheTunnelEndpoint(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.ReadHeaderTimeout = 2 * time.Second
	relay := relaytest.StartRelay(t, cfg)
	token := f.Token(t, "CT0700026", "mall-3f")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: relaytest.Wait}
	connect := relay.URL + tunnel.ConnectPath

	random := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	raw := func(payload []byte) error {
		c, err := net.Dial("tcp", relay.Addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(relaytest.Wait))
		c.Write(payload)
		_, err = io.ReadAll(c) // the relay answers 400 or hangs up
		return err
	}
	status := func(header http.Header, want int) error {
		req, _ := http.NewRequest("GET", connect, nil)
		req.Header = header
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("status %d, want %d", resp.StatusCode, want)
		}
		return nil
	}
	// garbageTunnel is an authenticated tunnel that then sends frames
	// that are not yamux.
	garbageTunnel := func(typ websocket.MessageType, frames ...[]byte) error {
		ws, _, err := websocket.Dial(ctx, "ws://"+relay.Addr+tunnel.ConnectPath, &websocket.DialOptions{HTTPHeader: http.Header{
			"Authorization": {"Bearer " + token}, tunnel.HeaderMachine: {"CT0700026"},
		}})
		if err != nil {
			return err
		}
		defer ws.CloseNow()
		for _, fr := range frames {
			ws.Write(ctx, typ, fr) // fails once the relay hangs up
		}
		for { // until the relay hangs up
			if _, _, err := ws.Read(ctx); err != nil {
				if ctx.Err() != nil {
					return errors.New("the relay kept a garbage tunnel")
				}
				return nil
			}
		}
	}
	upgrade := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}
	with := func(kv ...string) http.Header {
		h := upgrade.Clone()
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	cases := []func() error{
		func() error { return raw(append(random(512), "\r\n\r\n"...)) },
		func() error {
			return raw([]byte("GET /agent/connect HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\x00\x01\x02\r\n\r\n"))
		},
		func() error {
			return raw(append([]byte("GET /agent/connect HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), random(256)...))
		},
		func() error { return status(nil, 426) },
		func() error { return status(with(tunnel.HeaderMachine, "CT0700026"), 401) },
		func() error {
			return status(with(tunnel.HeaderMachine, "CT0700026", "Authorization", fmt.Sprintf("Bearer cf1.%x.%x", random(20), random(8))), 401)
		},
		// A frame of an unknown protocol version, then of an unknown type.
		func() error { return garbageTunnel(websocket.MessageBinary, append([]byte{0xff}, random(199)...)) },
		func() error { return garbageTunnel(websocket.MessageBinary, append([]byte{0, 9}, random(10)...)) },
		func() error { return garbageTunnel(websocket.MessageText, []byte("not yamux")) },
	}
	for i, c := range cases { // warm up lazily started goroutines
		if err := c(); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
	}
	client.CloseIdleConnections()
	baseline := runtime.NumGoroutine()
	for i := range 1000 {
		if err := cases[i%len(cases)](); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}

	// The relay still admits and routes a real agent...
	startKiosk(t, f, relay.URL, newKiosk("CT0700026", "East", "mall-3f"))
	if status, _, _ := do(t, "GET", relay.URL+"/healthz", nil); status != 200 {
		t.Errorf("healthz = %d", status)
	}
	// ...and nothing of the garbage is left running (the real agent and
	// its tunnel account for a few goroutines).
	client.CloseIdleConnections()
	relaytest.Eventually(t, relaytest.Wait, "goroutines back to the baseline", func() bool {
		return runtime.NumGoroutine() <= baseline+20
	})
}

// TestSlowClientsAreCutOff: a client that never finishes its headers, or
// its body, loses the connection.
func TestSlowClientsAreCutOff(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.ReadHeaderTimeout = 300 * time.Millisecond
	cfg.RequestTimeout = 600 * time.Millisecond
	relay := relaytest.StartRelay(t, cfg)
	startKiosk(t, f, relay.URL, newKiosk("CT0700026", "East", "mall-3f"))

	tests := []struct{ name, partial string }{
		{"headers never finished", "GET /api/machines HTTP/1.1\r\nHost: x\r\nX-Slow: "},
		{"body never finished", "POST " + api + "CT0700026/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", relay.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			io.WriteString(c, tt.partial)
			c.SetReadDeadline(time.Now().Add(relaytest.Wait))
			_, err = io.ReadAll(c) // whatever the relay says, it must hang up
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the relay kept the connection for %v", relaytest.Wait)
			}
			t.Logf("cut off after %v", time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestShutdownDrains: a stopping relay finishes the requests in flight
// before it closes the tunnels, and the agent learns of it.
func TestShutdownDrains(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	k := newKiosk("CT0700026", "East", "mall-3f")
	a := startKiosk(t, f, relay.URL, k)

	answer := make(chan string, 1)
	go func() {
		resp, err := http.Get(relay.URL + api + "CT0700026/slow")
		if err != nil {
			answer <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answer <- string(b)
	}()
	relaytest.Eventually(t, relaytest.Wait, "the slow request reaches the agent", func() bool {
		for _, r := range k.requests() {
			if strings.HasSuffix(r, "/slow") {
				return true
			}
		}
		return false
	})
	stopped := make(chan struct{})
	go func() { relay.Stop(t); close(stopped) }()
	relaytest.Eventually(t, relaytest.Wait, "the relay stops taking connections", func() bool {
		c, err := net.Dial("tcp", relay.Addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if s := a.WaitState(t, "connected", relaytest.Connected); !s.Connected {
		t.Fatal("unreachable")
	}
	close(k.release)
	if got := <-answer; got != "slow answer" {
		t.Errorf("the request in flight got %q", got)
	}
	<-stopped
	a.WaitState(t, "disconnected once the relay stopped", func(s tunnel.State) bool { return !s.Connected })
}
