package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"casefleet/relay/relaytest"
)

const api = "/api/chitu/machine/"

func TestForwardsHTTPToTheMachinesAgent(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	startKiosk(t, f, relay.URL, newKiosk("CT0700026", "East", "mall-3f"))
	startKiosk(t, f, relay.URL, newKiosk("CT0700046", "Station", "station"))

	for _, code := range []string{"CT0700026", "CT0700046"} {
		status, _, body := do(t, "POST", relay.URL+api+code+"/queue/X?a=1", strings.NewReader("x"))
		if want := code + " POST " + api + code + "/queue/X?a=1"; status != 200 || body != want {
			t.Errorf("POST through the relay = %d %q, want 200 %q", status, body, want)
		}
	}
}

func TestAgentSeesTheCustomersAddress(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		xff     string // sent by the client (from 127.0.0.1)
		wantXFF string
	}{
		{"direct client, nothing claimed", nil, "", "127.0.0.1"},
		{"untrusted client's claim is ignored", nil, "6.6.6.6", "127.0.0.1"},
		{"a trusted load balancer's chain is kept", []string{"127.0.0.0/8"}, "203.0.113.9", "203.0.113.9, 127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := relaytest.NewFleet(t)
			cfg := f.Config(t)
			cfg.TrustedProxies = tt.trusted
			relay := relaytest.StartRelay(t, cfg)
			startKiosk(t, f, relay.URL, newKiosk("CT0700026", "East", "mall-3f"))
			var header []string
			if tt.xff != "" {
				header = []string{"X-Forwarded-For", tt.xff, "X-Casefleet-Relay-Hop", "forged"}
			}
			status, _, body := do(t, "GET", relay.URL+api+"CT0700026/headers", nil, header...)
			var got map[string]string
			json.Unmarshal([]byte(body), &got)
			if status != 200 || got["xff"] != tt.wantXFF || got["proto"] != "http" || got["hop"] != "" {
				t.Errorf("agent saw %d %v, want X-Forwarded-For %q, proto http and no hop header", status, got, tt.wantXFF)
			}
		})
	}
}

func TestWebSocketThroughTheRelay(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	startKiosk(t, f, relay.URL, newKiosk("CT0700026", "East", "mall-3f"))

	ctx, cancel := context.WithTimeout(context.Background(), relaytest.Wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+relay.Addr+api+"CT0700026/events?sessionId=S", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for i := range 20 {
		msg := "hello " + strconv.Itoa(i)
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "CT0700026 echo: "+msg {
			t.Fatalf("got %q", got)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
}

func TestUploadsStreamAndAreBounded(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.MaxBodyBytes = 6 << 20
	relay := relaytest.StartRelay(t, cfg)
	startKiosk(t, f, relay.URL, newKiosk("CT0700026", "East", "mall-3f"))
	url := relay.URL + api + "CT0700026/upload"

	photo := bytes.Repeat([]byte("0123456789abcdef"), (5<<20)/16)
	status, _, body := do(t, "POST", url, bytes.NewReader(photo))
	if status != 200 || body != strconv.Itoa(len(photo)) {
		t.Fatalf("5 MB upload = %d %q", status, body)
	}

	big := bytes.Repeat([]byte("x"), 7<<20)
	status, _, body = do(t, "POST", url, bytes.NewReader(big))
	if status != http.StatusRequestEntityTooLarge || decodeError(t, body).Error.Code != "too_large" {
		t.Errorf("7 MB upload with Content-Length = %d %s, want 413 too_large", status, body)
	}
	// Without Content-Length, the limit is found while streaming.
	status, _, _ = do(t, "POST", url, io.MultiReader(bytes.NewReader(big)))
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("7 MB chunked upload = %d, want 413", status)
	}
}

// TestNoOpenProxy sends what a scanner for open proxies sends: nothing but
// the machine routes reaches an agent.
func TestNoOpenProxy(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	k := newKiosk("CT0700026", "East", "mall-3f")
	startKiosk(t, f, relay.URL, k)
	before := len(k.requests())

	tests := []struct {
		request string
		status  int
	}{
		{"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 400},
		{"GET http://127.0.0.1:7080" + api + "CT0700026/status HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405},
		{"GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"GET /admin/state HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"GET /healthz/../" + api + "CT0700026/status HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET " + api + "CT0700026/../../../admin HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET " + api + "CT0700026%2F..%2F..%2Fadmin/x HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET " + api + "CT0700026//status HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET " + api + "ct0700026/status HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET " + api + "CT0700026 HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"GET " + api + " HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"TRACE " + api + "CT0700026/status HTTP/1.1\r\nHost: x\r\n\r\n", 405},
		{"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET /editor HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET /editor?machine=../../x HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"POST /editor?machine=CT0700026 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 404},
		{"DELETE /app/main.js HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"GET /agent/other HTTP/1.1\r\nHost: x\r\n\r\n", 404},
	}
	for _, tt := range tests {
		line, _, _ := strings.Cut(tt.request, "\r\n")
		t.Run(line, func(t *testing.T) {
			if got := rawStatus(t, relay.Addr, tt.request); got != tt.status {
				t.Errorf("status %d, want %d", got, tt.status)
			}
		})
	}
	if seen := k.requests()[before:]; len(seen) != 0 {
		t.Errorf("the agent saw %q", seen)
	}
}

// rawStatus sends a raw request and returns the answer's status code.
func rawStatus(t *testing.T, addr, request string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(relaytest.Wait))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := io.ReadAtLeast(c, buf, 12)
	f := strings.Fields(string(buf[:n]))
	if len(f) < 2 {
		t.Fatalf("answer %q", buf[:n])
	}
	code, _ := strconv.Atoi(f[1])
	return code
}

func TestOfflineAndUnknownMachinesNameAlternatives(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	startKiosk(t, f, relay.URL, newKiosk("CT0700026", "East escalator", "mall-3f"))
	food := startKiosk(t, f, relay.URL, newKiosk("CT0700027", "Food court", "mall-3f"))
	startKiosk(t, f, relay.URL, newKiosk("CT0700046", "Station", "station"))
	food.Stop()
	relaytest.Eventually(t, relaytest.Wait, "CT0700027 offline at the relay", func() bool {
		status, _, _ := do(t, "GET", relay.URL+api+"CT0700027/status", nil)
		return status == http.StatusServiceUnavailable
	})

	t.Run("offline machine, JSON", func(t *testing.T) {
		status, h, body := do(t, "GET", relay.URL+api+"CT0700027/status", nil)
		e := decodeError(t, body)
		if status != 503 || e.Error.Code != "machine_offline" || e.Error.Machine != "CT0700027" || h.Get("Retry-After") == "" {
			t.Errorf("= %d %s (Retry-After %q)", status, body, h.Get("Retry-After"))
		}
		if got := altCodes(e); got != "CT0700026" {
			t.Fatalf("alternatives = %q, want the other machine at mall-3f", got)
		}
		if a := e.Error.Alternatives[0]; a.Name != "East escalator" || a.Status != "online" || a.QueueLength != 2 ||
			a.EditorURL != "/editor?machine=CT0700026&location=mall-3f" {
			t.Errorf("alternative = %+v", a)
		}
	})
	t.Run("offline machine, browser", func(t *testing.T) {
		status, h, body := do(t, "GET", relay.URL+"/editor?machine=CT0700027&location=mall-3f", nil, "Accept", "text/html,*/*")
		if status != 503 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") ||
			!strings.Contains(body, "offline") || !strings.Contains(body, `href="/editor?machine=CT0700026&amp;location=mall-3f"`) {
			t.Errorf("= %d %s", status, body)
		}
	})
	t.Run("offline machine, browser in Arabic", func(t *testing.T) {
		status, h, body := do(t, "GET", relay.URL+"/editor?machine=CT0700027&location=mall-3f", nil,
			"Accept", "text/html,*/*", "Accept-Language", "ar-EG,ar;q=0.9,en;q=0.5")
		if status != 503 || h.Get("Content-Language") != "ar" || !strings.Contains(body, `<html lang="ar" dir="rtl">`) ||
			!strings.Contains(body, "<h1>هذا الجهاز غير متصل</h1>") || !strings.Contains(body, "أجهزة أخرى قريبة") ||
			!strings.Contains(body, `href="/editor?machine=CT0700026&amp;location=mall-3f"`) {
			t.Errorf("= %d (Content-Language %q) %s", status, h.Get("Content-Language"), body)
		}
	})
	t.Run("the page's language switch is remembered for the app", func(t *testing.T) {
		status, h, body := do(t, "GET", relay.URL+"/editor?machine=CT0700027&location=mall-3f&lang=de", nil,
			"Accept", "text/html,*/*", "Accept-Language", "fr")
		if status != 503 || !strings.Contains(body, "<h1>Dieser Automat ist offline</h1>") {
			t.Errorf("= %d %s", status, body)
		}
		if c := h.Get("Set-Cookie"); !strings.HasPrefix(c, "lang=de;") || !strings.Contains(c, "Path=/") || strings.Contains(c, "Secure") {
			t.Errorf("Set-Cookie %q, want lang=de for the whole site (plain HTTP here: not Secure)", c)
		}
		if v := strings.Join(h.Values("Vary"), ", "); !strings.Contains(v, "Accept") || !strings.Contains(v, "Accept-Language") || !strings.Contains(v, "Cookie") {
			t.Errorf("Vary %q: the page depends on Accept, Accept-Language and Cookie", v)
		}
	})
	t.Run("unknown machine with the QR code's location", func(t *testing.T) {
		status, _, body := do(t, "GET", relay.URL+api+"CT0799999/status?location=station", nil)
		e := decodeError(t, body)
		if status != 404 || e.Error.Code != "unknown_machine" || altCodes(e) != "CT0700046" {
			t.Errorf("= %d %s", status, body)
		}
	})
	t.Run("unknown machine, nowhere", func(t *testing.T) {
		status, _, body := do(t, "GET", relay.URL+api+"CT0799999/status", nil)
		e := decodeError(t, body)
		if status != 404 || e.Error.Code != "unknown_machine" || e.Error.Alternatives == nil || len(e.Error.Alternatives) != 0 {
			t.Errorf("= %d %s, want an empty list of alternatives", status, body)
		}
	})
}

// The relay's own pages for browsers speak the customer's language; the
// same failures answer programs in JSON, in English.
func TestRelayPagesSpeakTheCustomersLanguage(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	for _, c := range []struct {
		path, acceptLanguage string
		status               int
		code, lang, heading  string
	}{
		{"/editor?machine=CT0799999", "es-ES,es;q=0.9", 404, "unknown_machine", "es", "No conocemos esta máquina"},
		{"/editor?machine=bad!code", "fr-FR", 400, "invalid_machine_code", "fr", "Nous ne connaissons pas cette borne"},
		{"/editor", "de-DE", 400, "missing_machine", "de", "Welcher Automat?"},
		{"/wp-admin/", "zh-CN,zh;q=0.9", 404, "not_found", "zh-CN", "这里什么都没有"},
		{"/editor?machine=CT0799999", "ar", 404, "unknown_machine", "ar", "لا نعرف هذا الجهاز"},
		{"/editor?machine=CT0799999", "pt-BR", 404, "unknown_machine", "en", "We don&#39;t know this machine"},
	} {
		status, h, body := do(t, "GET", relay.URL+c.path, nil, "Accept", "text/html", "Accept-Language", c.acceptLanguage)
		if status != c.status || h.Get("Content-Language") != c.lang || !strings.Contains(body, "<h1>"+c.heading+"</h1>") {
			t.Errorf("%s in %s: %d (Content-Language %q), want %d with heading %q\n%s", c.path, c.acceptLanguage, status, h.Get("Content-Language"), c.status, c.heading, body)
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", c.path, csp)
		}
		status, _, body = do(t, "GET", relay.URL+c.path, nil, "Accept-Language", c.acceptLanguage)
		if e := decodeError(t, body); status != c.status || e.Error.Code != c.code || e.Error.Message == "" || strings.Contains(e.Error.Message, ".text") {
			t.Errorf("%s as JSON: %d %s, want %d %s with an English message", c.path, status, body, c.status, c.code)
		}
	}
}

func TestMachinesList(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	startKiosk(t, f, relay.URL, newKiosk("CT0700026", "East escalator", "mall-3f"))
	startKiosk(t, f, relay.URL, newKiosk("CT0700046", "Station", "station"))

	var list struct {
		Machines []struct {
			Code, Name, Location, Status string
			QueueLength                  int
		}
	}
	status, _, body := do(t, "GET", relay.URL+"/api/machines", nil)
	json.Unmarshal([]byte(body), &list)
	if status != 200 || len(list.Machines) != 2 || list.Machines[0].Code != "CT0700026" || list.Machines[0].Name != "East escalator" ||
		list.Machines[0].Status != "online" || list.Machines[0].QueueLength != 2 || list.Machines[1].Location != "station" {
		t.Errorf("GET /api/machines = %d %s", status, body)
	}
	_, _, body = do(t, "GET", relay.URL+"/api/machines?location=station", nil)
	list.Machines = nil
	json.Unmarshal([]byte(body), &list)
	if len(list.Machines) != 1 || list.Machines[0].Code != "CT0700046" {
		t.Errorf("GET /api/machines?location=station = %s", body)
	}
}

func TestEditorAndAppAssetsGoToTheMachine(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	startKiosk(t, f, relay.URL, newKiosk("CT0700026", "East", "mall-3f"))
	startKiosk(t, f, relay.URL, newKiosk("CT0700046", "Station", "station"))

	status, h, body := do(t, "GET", relay.URL+"/editor?machine=CT0700046&location=station", nil)
	if status != 200 || body != "CT0700046 GET /editor?machine=CT0700046&location=station" {
		t.Fatalf("editor = %d %q", status, body)
	}
	cookie := h.Get("Set-Cookie")
	if !strings.HasPrefix(cookie, "casefleet_machine=CT0700046;") || !strings.Contains(cookie, "Path=/app/") {
		t.Errorf("editor cookie = %q", cookie)
	}
	tests := []struct {
		name, url, cookie, wantPrefix string
	}{
		{"the editor's cookie", "/app/main.js", "casefleet_machine=CT0700046", "CT0700046 "},
		{"the machine parameter wins", "/app/main.js?machine=CT0700026", "casefleet_machine=CT0700046", "CT0700026 "},
		{"an offline machine's cookie: any agent", "/app/main.js", "casefleet_machine=CT0799999", "CT07000"},
		{"no machine: any agent", "/app/i18n/de.json", "", "CT07000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header []string
			if tt.cookie != "" {
				header = []string{"Cookie", tt.cookie}
			}
			status, _, body := do(t, "GET", relay.URL+tt.url, nil, header...)
			if status != 200 || !strings.HasPrefix(body, tt.wantPrefix) {
				t.Errorf("= %d %q, want it served by %s", status, body, tt.wantPrefix)
			}
		})
	}
}

func TestRateLimits(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.RateIP, cfg.RateIPBurst = 0.5, 6
	cfg.RateSession, cfg.RateSessionBurst = 0.5, 2
	relay := relaytest.StartRelay(t, cfg)
	k := newKiosk("CT0700026", "East", "mall-3f")
	relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: relay.URL, Code: k.code, Token: f.Token(t, k.code, k.location), Handler: k})
	relaytest.Eventually(t, relaytest.Wait, "routable", func() bool { return len(k.requests()) > 0 || relay.Server != nil && probe(relay.URL) })

	url := relay.URL + api + "CT0700026/queue/X"
	// A session gets its burst, then waits.
	for i := range 2 {
		if status, _, body := do(t, "GET", url, nil, "X-Session-Id", "A"); status != 200 {
			t.Fatalf("session request %d = %d %s", i, status, body)
		}
	}
	status, h, body := do(t, "GET", url+"?sessionId=A", nil)
	if status != 429 || decodeError(t, body).Error.Code != "rate_limited" || h.Get("Retry-After") == "" {
		t.Errorf("session over its limit = %d %s (Retry-After %q)", status, body, h.Get("Retry-After"))
	}
	// Another session is not held back by the first...
	if status, _, _ := do(t, "GET", url, nil, "X-Session-Id", "B"); status != 200 {
		t.Errorf("another session = %d", status)
	}
	// ...but every request counts for the address, and the address's
	// burst is spent now.
	for {
		status, h, _ := do(t, "GET", url, nil)
		if status == 429 {
			if ra, _ := strconv.Atoi(h.Get("Retry-After")); ra < 1 {
				t.Errorf("Retry-After = %q", h.Get("Retry-After"))
			}
			break
		}
	}
	// Health checks are never limited.
	if status, _, _ := do(t, "GET", relay.URL+"/healthz", nil); status != 200 {
		t.Errorf("healthz = %d", status)
	}
}

// probe is one GET of a machine route through the relay, true if routed.
func probe(base string) bool {
	resp, err := http.Get(base + api + "CT0700026/status")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}
