package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	dto "github.com/prometheus/client_model/go"

	"casefleet/relay/relaytest"
	"casefleet/shared/testenv/promtest"
	"casefleet/shared/tunnel"
)

// scrape reads the relay's /metrics (with token, if not empty) and parses
// it as Prometheus does.
func scrape(t *testing.T, relayURL, token string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", relayURL+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return promtest.Scrape(t, &http.Client{Timeout: relaytest.Wait}, req)
}

// metricValue is promtest.Value with the labels as name, value pairs.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	return promtest.Value(fams, name, want)
}

func wantMetric(t *testing.T, fams map[string]*dto.MetricFamily, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := metricValue(fams, name, labels...)
	if !ok {
		t.Errorf("no series %s%v", name, labels)
	} else if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// eventuallyMetric polls /metrics until the series has the value.
func eventuallyMetric(t *testing.T, relayURL string, want float64, name string, labels ...string) {
	t.Helper()
	relaytest.Eventually(t, relaytest.Wait, fmt.Sprintf("%s%v = %v", name, labels, want), func() bool {
		got, ok := metricValue(scrape(t, relayURL, ""), name, labels...)
		return ok && got == want
	})
}

// dialTunnel tries to open a tunnel with the given headers and returns
// the HTTP status of the refusal (0 if it was admitted).
func dialTunnel(t *testing.T, relayAddr string, header http.Header) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), relaytest.Wait)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws://"+relayAddr+tunnel.ConnectPath, &websocket.DialOptions{HTTPHeader: header})
	if err == nil {
		ws.CloseNow()
		return 0
	}
	if resp == nil {
		t.Fatalf("dial tunnel: %v", err)
	}
	return resp.StatusCode
}

func TestMetricsAfterTraffic(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	agent := startKiosk(t, f, relay.URL, newKiosk("CT0700026", "East", "mall-3f"))

	do(t, "GET", relay.URL+api+"CT0700026/status", nil)
	do(t, "POST", relay.URL+api+"CT0700026/print", strings.NewReader("photo"))
	do(t, "DELETE", relay.URL+api+"CT0700026/queue/ORDER1", nil)
	do(t, "GET", relay.URL+api+"CT0700026/something/else", nil)
	if status, _, _ := do(t, "GET", relay.URL+api+"CT0700099/status", nil); status != http.StatusNotFound {
		t.Fatalf("unknown machine = %d", status)
	}
	// Hostile paths: every one of them must land in a bounded label.
	for i := range 30 {
		do(t, "GET", fmt.Sprintf("%s/random/%d/%s?x=%d", relay.URL, i, strings.Repeat("z", i), i), nil)
		do(t, "GET", fmt.Sprintf("%s%sCT08%05d/status", relay.URL, api, i), nil) // unknown machines
	}
	do(t, "GET", relay.URL+api+"CT0700026", nil) // a ServeMux would redirect this one

	// Refused tunnels, each for its reason.
	other := relaytest.NewFleet(t)
	for _, tt := range []struct {
		header http.Header
		want   int
	}{
		{http.Header{tunnel.HeaderMachine: {"CT0700046"}, "Authorization": {"Bearer " + other.Token(t, "CT0700046", "")}}, 401},
		{http.Header{tunnel.HeaderMachine: {"CT0700046"}, "Authorization": {"Bearer " + f.Token(t, "CT0700027", "")}}, 403},
		{http.Header{tunnel.HeaderMachine: {"CT0700046"}}, 401},
		{http.Header{tunnel.HeaderMachine: {"bad code"}, "Authorization": {"Bearer x"}}, 400},
	} {
		if got := dialTunnel(t, relay.Addr, tt.header); got != tt.want {
			t.Errorf("tunnel with %v = %d, want %d", tt.header, got, tt.want)
		}
	}
	do(t, "GET", relay.URL+tunnel.ConnectPath, nil) // not a WebSocket

	// A customer's event stream is open...
	ctx, cancel := context.WithTimeout(context.Background(), relaytest.Wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+relay.Addr+api+"CT0700026/events?sessionId=S", nil)
	if err != nil {
		t.Fatal(err)
	}
	eventuallyMetric(t, relay.URL, 1, "casefleet_relay_websockets_open")

	fams := scrape(t, relay.URL, "")
	wantMetric(t, fams, 1, "casefleet_relay_tunnels_up")
	wantMetric(t, fams, 1, "casefleet_relay_machine_up", "machine", "CT0700026", "location", "mall-3f")
	wantMetric(t, fams, 1, "casefleet_relay_tunnel_connects_total")
	wantMetric(t, fams, 1, "casefleet_relay_tunnel_refusals_total", "reason", "token_invalid")
	wantMetric(t, fams, 1, "casefleet_relay_tunnel_refusals_total", "reason", "wrong_machine")
	wantMetric(t, fams, 1, "casefleet_relay_tunnel_refusals_total", "reason", "missing_token")
	wantMetric(t, fams, 1, "casefleet_relay_tunnel_refusals_total", "reason", "invalid_machine")
	wantMetric(t, fams, 1, "casefleet_relay_tunnel_refusals_total", "reason", "websocket_required")
	wantMetric(t, fams, 0, "casefleet_relay_tunnel_refusals_total", "reason", "token_revoked")
	const h = "casefleet_relay_http_request_duration_seconds"
	const m = "/api/chitu/machine/{code}"
	wantMetric(t, fams, 1, h, "route", "POST "+m+"/print", "code", "200")
	wantMetric(t, fams, 1, h, "route", "DELETE "+m+"/queue/{order}", "code", "200")
	wantMetric(t, fams, 1, h, "route", m+"/", "code", "200")
	wantMetric(t, fams, 1, h, "route", "GET "+m+"/events", "code", "101")
	wantMetric(t, fams, 1, h, "route", "GET "+tunnel.ConnectPath, "code", "101")
	wantMetric(t, fams, 1, h, "route", "GET "+tunnel.ConnectPath, "code", "426")
	if n, _ := metricValue(fams, h, "route", "GET "+m+"/status", "code", "200"); n < 2 { // ours and WaitRoutable's
		t.Errorf("GET status 200 counted %v times", n)
	}
	// CT0700099 and the made-up codes (and WaitRoutable's tries before the
	// tunnel was up).
	if n, _ := metricValue(fams, h, "route", "GET "+m+"/status", "code", "404"); n < 31 {
		t.Errorf("GET status of unknown machines counted %v times, want at least 31", n)
	}
	if n, _ := metricValue(fams, h, "route", "unmatched", "code", "404"); n < 30 {
		t.Errorf("requests for unknown paths counted %v times under unmatched", n)
	}
	wantMetric(t, fams, 1, "casefleet_relay_info", "version", "")
	if fams["go_goroutines"] == nil || fams["process_start_time_seconds"] == nil {
		t.Error("runtime and process metrics missing")
	}

	// Bounded cardinality: machine codes only in machine_up's machine
	// label, and routes only from the fixed set of patterns.
	routes := map[string]bool{}
	for name, fam := range fams {
		for _, mt := range fam.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if lp.GetName() == "route" {
					routes[lp.GetValue()] = true
				}
				if (strings.Contains(lp.GetValue(), "CT07") || strings.Contains(lp.GetValue(), "CT08")) && !(name == "casefleet_relay_machine_up" && lp.GetName() == "machine") {
					t.Errorf("%s has a machine code in label %s=%q", name, lp.GetName(), lp.GetValue())
				}
				if strings.Contains(lp.GetValue(), "random") || strings.Contains(lp.GetValue(), "?") {
					t.Errorf("%s has a raw path in label %s=%q", name, lp.GetName(), lp.GetValue())
				}
			}
		}
	}
	if len(routes) > 12 {
		t.Errorf("%d route labels after this traffic: %v", len(routes), routes)
	}

	// ...and closes; the kiosk goes away.
	ws.Close(websocket.StatusNormalClosure, "")
	eventuallyMetric(t, relay.URL, 0, "casefleet_relay_websockets_open")
	agent.Stop()
	eventuallyMetric(t, relay.URL, 0, "casefleet_relay_tunnels_up")
	fams = scrape(t, relay.URL, "")
	wantMetric(t, fams, 0, "casefleet_relay_machine_up", "machine", "CT0700026")
	wantMetric(t, fams, 1, "casefleet_relay_tunnel_disconnects_total", "reason", "dropped")
}

func TestDisconnectReasons(t *testing.T) {
	f := relaytest.NewFleet(t)
	revFile := filepath.Join(t.TempDir(), "revoked")
	os.WriteFile(revFile, nil, 0o644)
	cfg := f.Config(t)
	cfg.Revocations = revFile
	cfg.RevocationsPoll = 50 * time.Millisecond
	cfg.KeepAlive = time.Hour // the relay must not find the stalled link by itself
	relay := relaytest.StartRelay(t, cfg)
	token := f.Token(t, "CT0700026", "mall-3f")

	// A kiosk whose link died silently reconnects: the old tunnel is
	// replaced.
	link := relaytest.StartFaultProxy(t, relay.Addr)
	old := relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: link.URL(), Code: "CT0700026", Token: token,
		Handler: relaytest.Echo("old"), KeepAlive: time.Hour})
	relaytest.WaitRoutable(t, relay.URL, "CT0700026")
	link.Stall()
	current := relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: relay.URL, Code: "CT0700026", Token: token, Handler: relaytest.Echo("new")})
	eventuallyMetric(t, relay.URL, 1, "casefleet_relay_tunnel_disconnects_total", "reason", "replaced")
	old.Stop()

	// Its token is revoked: the live tunnel closes, and the agent's
	// attempts are refused from then on.
	if err := os.WriteFile(revFile, []byte("machine:CT0700026\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	current.WaitState(t, "refused as revoked", relaytest.Refused("token_revoked"))
	eventuallyMetric(t, relay.URL, 1, "casefleet_relay_tunnel_disconnects_total", "reason", "revoked")
	fams := scrape(t, relay.URL, "")
	wantMetric(t, fams, 2, "casefleet_relay_tunnel_connects_total")
	wantMetric(t, fams, 0, "casefleet_relay_tunnel_disconnects_total", "reason", "dropped")
	if n, _ := metricValue(fams, "casefleet_relay_tunnel_refusals_total", "reason", "token_revoked"); n < 1 {
		t.Errorf("refusals as revoked = %v, want at least 1", n)
	}
}

func TestMetricsToken(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.MetricsToken = "0123456789abcdef0123"
	relay := relaytest.StartRelay(t, cfg)

	for _, auth := range []string{"", "Bearer wrong-token-of-some-length", "Basic " + cfg.MetricsToken, "Bearer " + cfg.MetricsToken + "x"} {
		var header []string
		if auth != "" {
			header = []string{"Authorization", auth}
		}
		status, h, body := do(t, "GET", relay.URL+"/metrics", nil, header...)
		if status != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("GET /metrics with %q = %d (WWW-Authenticate %q)", auth, status, h.Get("WWW-Authenticate"))
		}
		if strings.Contains(body, "casefleet_relay") || strings.Contains(body, cfg.MetricsToken) {
			t.Errorf("an unauthorized scrape shows %q", body)
		}
	}
	fams := scrape(t, relay.URL, cfg.MetricsToken)
	wantMetric(t, fams, 4, "casefleet_relay_http_request_duration_seconds", "route", "GET /metrics", "code", "401")
}

func TestRateLimitedRequestsAreCounted(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.RateIP, cfg.RateIPBurst = 0.5, 4
	cfg.RateSession, cfg.RateSessionBurst = 0.5, 1
	relay := relaytest.StartRelay(t, cfg)

	url := relay.URL + api + "CT0700026/status"
	do(t, "GET", url, nil, "X-Session-Id", "A")
	if status, _, _ := do(t, "GET", url, nil, "X-Session-Id", "A"); status != http.StatusTooManyRequests {
		t.Fatalf("second request of a session = %d, want 429", status)
	}
	for {
		if status, _, _ := do(t, "GET", url, nil); status == http.StatusTooManyRequests {
			break
		}
	}
	fams := scrape(t, relay.URL, "")
	wantMetric(t, fams, 1, "casefleet_relay_rate_limited_total", "limit", "session")
	wantMetric(t, fams, 1, "casefleet_relay_rate_limited_total", "limit", "ip")
	if n, _ := metricValue(fams, "casefleet_relay_http_request_duration_seconds", "route", "GET "+api+"{code}/status", "code", "429"); n != 2 {
		t.Errorf("429s by route = %v, want 2", n)
	}
}

// TestDirectoryErrorsAreCounted: a relay whose Redis is away counts each
// failed command, and still serves its own tunnels.
func TestDirectoryErrorsAreCounted(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.RedisURL = "redis://127.0.0.1:1"
	cfg.InstanceID = "relay-a"
	relay := relaytest.StartRelay(t, cfg)
	startKiosk(t, f, relay.URL, newKiosk("CT0700026", "East", "mall-3f"))
	do(t, "GET", relay.URL+"/readyz", nil)
	do(t, "GET", relay.URL+api+"CT0700099/status", nil) // looked up in the directory

	fams := scrape(t, relay.URL, "")
	for _, op := range []string{"claim", "ping", "lookup"} {
		if n, _ := metricValue(fams, "casefleet_relay_directory_errors_total", "op", op); n < 1 {
			t.Errorf("directory errors of %s = %v, want at least 1", op, n)
		}
	}
	wantMetric(t, fams, 1, "casefleet_relay_tunnels_up")
}

// TestPeerRequestsAreCounted: the agent is on A, the phone on B; B counts
// what it sends to A, and A what it receives from B.
func TestPeerRequestsAreCounted(t *testing.T) {
	f := relaytest.NewFleet(t)
	prefix := testPrefix()
	a := relaytest.StartRelay(t, peerConfig(t, f, prefix, "relay-a"))
	b := relaytest.StartRelay(t, peerConfig(t, f, prefix, "relay-b"))
	startKiosk(t, f, a.URL, newKiosk("CT0700026", "East", "mall-3f"))
	relaytest.WaitRoutable(t, b.URL, "CT0700026")
	sentBefore, _ := metricValue(scrape(t, b.URL, ""), "casefleet_relay_peer_requests_total", "direction", "sent")
	receivedBefore, _ := metricValue(scrape(t, a.URL, ""), "casefleet_relay_peer_requests_total", "direction", "received")

	for range 3 {
		if status, _, body := do(t, "GET", b.URL+api+"CT0700026/x", nil); status != http.StatusOK {
			t.Fatalf("via B = %d %s", status, body)
		}
	}
	wantMetric(t, scrape(t, b.URL, ""), sentBefore+3, "casefleet_relay_peer_requests_total", "direction", "sent")
	wantMetric(t, scrape(t, a.URL, ""), receivedBefore+3, "casefleet_relay_peer_requests_total", "direction", "received")
	// Only A has the tunnel.
	wantMetric(t, scrape(t, a.URL, ""), 1, "casefleet_relay_tunnels_up")
	wantMetric(t, scrape(t, b.URL, ""), 0, "casefleet_relay_tunnels_up")
}
