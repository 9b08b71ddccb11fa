package server_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"casefleet/relay/relaytest"
)

// TestWebSocketsAreCapped: a client address and a customer session may
// hold only so many event streams at once; one more is a 429 in the API's
// shape with Retry-After, counted by the cap it hit, and a place freed is
// taken again.
func TestWebSocketsAreCapped(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.MaxStreamsIP, cfg.MaxStreamsSession = 5, 2
	relay := relaytest.StartRelay(t, cfg)
	startKiosk(t, f, relay.URL, newKiosk("CT0700026", "East", "mall-3f"))
	ctx, cancel := context.WithTimeout(context.Background(), relaytest.Wait)
	defer cancel()

	open := func(session string) (*websocket.Conn, *http.Response, error) {
		c, resp, err := websocket.Dial(ctx, "ws://"+relay.Addr+api+"CT0700026/events?sessionId="+session, nil)
		if err == nil {
			t.Cleanup(func() { c.CloseNow() })
			// Through to the agent and back: the stream is really open.
			if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Read(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return c, resp, err
	}
	refused := func(session, why string) {
		t.Helper()
		_, resp, err := open(session)
		if err == nil {
			t.Fatalf("%s: a stream over the cap was admitted", why)
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s: %v %v, want 429 with Retry-After", why, resp, err)
		}
	}

	first, _, err := open("A")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := open("A"); err != nil {
		t.Fatal(err)
	}
	refused("A", "a third stream of one session")
	for _, s := range []string{"B", "C", "D"} {
		if _, _, err := open(s); err != nil {
			t.Fatalf("session %s: %v", s, err)
		}
	}
	refused("E", "a sixth stream from one address")

	// The error is the API's, as for every refusal of the relay.
	status, _, body := do(t, "GET", relay.URL+api+"CT0700026/events?sessionId=E", nil,
		"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if status != http.StatusTooManyRequests || decodeError(t, body).Error.Code != "too_many_streams" {
		t.Errorf("refusal = %d %s, want 429 too_many_streams", status, body)
	}

	// A stream that ends frees its place.
	first.Close(websocket.StatusNormalClosure, "")
	relaytest.Eventually(t, relaytest.Wait, "a place freed", func() bool {
		c, _, err := websocket.Dial(ctx, "ws://"+relay.Addr+api+"CT0700026/events?sessionId=E", nil)
		if err != nil {
			return false
		}
		c.CloseNow()
		return true
	})

	fams := scrape(t, relay.URL, "")
	wantMetric(t, fams, 1, "casefleet_relay_rate_limited_total", "limit", "streams_session")
	if n, _ := metricValue(fams, "casefleet_relay_rate_limited_total", "limit", "streams_ip"); n < 2 {
		t.Errorf("rate_limited_total{limit=streams_ip} = %v, want at least 2", n)
	}
}

// TestSilentWebSocketIsClosed: once upgraded, a customer's WebSocket that
// sends nothing for stream_idle_timeout (a dead phone: the agent's pings
// go unanswered) is closed by the relay, not held for ever.
func TestSilentWebSocketIsClosed(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.StreamIdleTimeout = 500 * time.Millisecond
	relay := relaytest.StartRelay(t, cfg)
	startKiosk(t, f, relay.URL, newKiosk("CT0700026", "East", "mall-3f"))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+relay.Addr+api+"CT0700026/events?sessionId=S", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	start := time.Now()
	_, _, err = c.Read(ctx) // the stand-in agent sends nothing unasked
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		t.Fatalf("the relay still held a silent WebSocket after %v", time.Since(start).Round(time.Millisecond))
	}
	t.Logf("closed after %v: %v", time.Since(start).Round(time.Millisecond), err)
}
