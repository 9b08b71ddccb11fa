package route

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"casefleet/relay/streamhttp"
	"casefleet/shared/enroll"
	"casefleet/shared/tunnel"
)

// tunnels opens real tunnels for code: a relay endpoint that hands each
// accepted Conn to the test, and agents that dial it.
func tunnels(t *testing.T, code string, n int) []*Tunnel {
	t.Helper()
	pub, priv, _ := enroll.GenerateKey()
	v := &enroll.Verifier{PublicKey: pub}
	accepted := make(chan *tunnel.Conn, n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := tunnel.Accept(w, r, tunnel.AcceptOptions{Authenticate: func(_ *http.Request, code, tok string) (enroll.Claims, error) {
			return v.VerifyFor(code, tok)
		}})
		if err == nil {
			accepted <- c
		}
	}))
	t.Cleanup(srv.Close)
	token, _ := enroll.Issue(priv, enroll.Claims{Machine: code})
	var out []*Tunnel
	for range n {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			tunnel.RunAgent(ctx, tunnel.AgentConfig{RelayURL: srv.URL, MachineCode: code, Token: token,
				Handler: http.NotFoundHandler(), MaxBackoff: time.Hour, MinBackoff: time.Hour})
		}()
		t.Cleanup(func() { cancel(); <-done })
		select {
		case c := <-accepted:
			dial := func(ctx context.Context) (net.Conn, error) { return c.DialContext(ctx, "tcp", "agent") }
			out = append(out, &Tunnel{Conn: c, Transport: &streamhttp.Transport{Dial: dial}, ID: code + string(rune('a'+len(out)))})
		case <-time.After(20 * time.Second):
			t.Fatal("no tunnel")
		}
	}
	return out
}

func TestTableNewestTunnelWins(t *testing.T) {
	ts := tunnels(t, "CT0700026", 2)
	older, newer := ts[0], ts[1]
	tb := NewTable()
	if tb.Put(older) != nil {
		t.Fatal("first tunnel replaced something")
	}
	if got := tb.Put(newer); got != older {
		t.Fatalf("Put of the newer tunnel replaced %v, want the older", got)
	}
	if tb.Get("CT0700026") != newer {
		t.Fatal("Get does not return the newer tunnel")
	}
	// The older tunnel ends: its removal must not remove its successor.
	older.Close()
	if tb.Remove(older) {
		t.Error("Remove of a replaced tunnel reported success")
	}
	if tb.Get("CT0700026") != newer || tb.Len() != 1 {
		t.Error("the successor is gone")
	}
	// A tunnel that is down is not handed out, even before its removal.
	newer.Close()
	if tb.Get("CT0700026") != nil {
		t.Error("Get returns a closed tunnel")
	}
	if !tb.Remove(newer) || tb.Len() != 0 || len(tb.All()) != 0 {
		t.Error("Remove of the current tunnel failed")
	}
}
