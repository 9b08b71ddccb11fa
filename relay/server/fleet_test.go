package server_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"casefleet/relay/fleet"
	"casefleet/relay/relaytest"
	"casefleet/shared/summary"
	"casefleet/shared/testenv"
)

// summaryKiosk is a stand-in agent that also answers the relay's summary
// request, as the real agent does on its tunnel.
type summaryKiosk struct {
	*kiosk
	status string
}

func (k summaryKiosk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == summary.Path {
		json.NewEncoder(w).Encode(summary.Summary{Code: k.code, Name: k.name, Location: k.location, Status: k.status,
			QueueLength: 2, QueueCapacity: 20, Version: "9.9.9", Ink: summary.Ink{Cyan: "ok", Magenta: "low", Yellow: "ok", Black: "ok"},
			Failures: 1, FailureReasons: []summary.Reason{{Reason: "=cmd jam", Count: 1}}})
		return
	}
	k.kiosk.ServeHTTP(w, r)
}

// fleetOwner is a browser-like client of the fleet page: a cookie jar,
// no redirects followed, same-origin headers on its forms.
type fleetOwner struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newOwner(t *testing.T, base string) *fleetOwner {
	jar, _ := cookiejar.New(nil)
	return &fleetOwner{t: t, base: base, c: &http.Client{Jar: jar, Timeout: relaytest.Wait,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (o *fleetOwner) get(path string) (int, http.Header, string) {
	o.t.Helper()
	resp, err := o.c.Get(o.base + path)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (o *fleetOwner) post(path string, form url.Values, header ...string) (int, http.Header, string) {
	o.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, o.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", o.base)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := o.c.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (o *fleetOwner) login(token string) int {
	o.t.Helper()
	st, _, _ := o.post("/fleet/login", url.Values{"token": {token}})
	return st
}

func adminToken(t *testing.T, f *relaytest.Fleet, ttl time.Duration) (string, string) {
	t.Helper()
	tok, id, err := fleet.IssueAdmin(fleet.AdminRequest{KeyFile: f.KeyFile, Name: "owner", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return tok, id
}

// The fleet page is behind the owner's login: a kiosk's token does not
// open it, an admin token does, with a session cookie the browser cannot
// read nor send cross-site; logout ends the session on the server, so a
// copied cookie is worth nothing after.
func TestFleetLoginSessionLogout(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	startKiosk(t, f, relay.URL, newKiosk("CT0700026", "Mall 3F", "mall-3f")) // answers no summary: an older agent
	owner := newOwner(t, relay.URL)

	if st, h, _ := owner.get("/fleet/"); st != http.StatusSeeOther || h.Get("Location") != "/fleet/login" {
		t.Fatalf("/fleet/ without a session: %d %s", st, h.Get("Location"))
	}
	for _, p := range []string{"/fleet/events", "/fleet/fleet.csv", "/fleet/sticker/CT0700026.svg"} {
		if st, _, _ := owner.get(p); st != http.StatusUnauthorized {
			t.Errorf("%s without a session: %d", p, st)
		}
	}
	if st, _, body := owner.get("/fleet/login"); st != http.StatusOK || !strings.Contains(body, `name="token"`) {
		t.Fatalf("login page: %d", st)
	}
	if st := owner.login(f.Token(t, "CT0700026", "mall-3f")); st != http.StatusUnauthorized {
		t.Errorf("a kiosk's token logged in: %d", st)
	}
	tok, _ := adminToken(t, f, time.Hour)
	st, h, _ := owner.post("/fleet/login", url.Values{"token": {tok}})
	if st != http.StatusSeeOther || h.Get("Location") != "/fleet/" {
		t.Fatalf("login: %d %s", st, h.Get("Location"))
	}
	cookie := h.Get("Set-Cookie")
	for _, want := range []string{"casefleet_fleet=", "Path=/fleet/", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	st, h, page := owner.get("/fleet/")
	if st != http.StatusOK || !strings.Contains(page, "CT0700026") || !strings.Contains(page, "mall-3f") {
		t.Fatalf("fleet page: %d\n%s", st, page)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", h)
	}
	if st, _, csv := owner.get("/fleet/fleet.csv"); st != http.StatusOK || !strings.HasPrefix(csv, "code,name,location,state") || !strings.Contains(csv, "CT0700026") {
		t.Errorf("csv: %d %q", st, csv)
	}
	if st, h, svg := owner.get("/fleet/sticker/CT0700026.svg"); st != http.StatusOK || h.Get("Content-Type") != "image/svg+xml" || !strings.Contains(svg, "<svg") {
		t.Errorf("sticker: %d %s", st, h.Get("Content-Type"))
	}
	if st, _, _ := owner.get("/fleet/sticker/CT0799999.svg"); st != http.StatusNotFound {
		t.Errorf("sticker of a machine never seen: %d", st)
	}

	csrf := between(page, `name="csrf" value="`, `"`)
	if st, _, _ := owner.post("/fleet/logout", url.Values{"csrf": {"wrong"}}); st != http.StatusForbidden {
		t.Errorf("logout with a wrong CSRF token: %d", st)
	}
	u, _ := url.Parse(relay.URL + "/fleet/")
	copied := owner.c.Jar.Cookies(u)
	if st, h, _ := owner.post("/fleet/logout", url.Values{"csrf": {csrf}}); st != http.StatusSeeOther || h.Get("Location") != "/fleet/login" {
		t.Fatalf("logout: %d", st)
	}
	thief := newOwner(t, relay.URL)
	thief.c.Jar.SetCookies(u, copied)
	if st, _, _ := thief.get("/fleet/"); st != http.StatusSeeOther {
		t.Errorf("a copy of the cookie still opens the page after logout: %d", st)
	}
}

func between(s, from, to string) string {
	_, after, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(after, to)
	return v
}

// Wrong tokens lock a client out like wrong operator PINs: five tries,
// then 429 with Retry-After, and during the lockout even the right token
// is refused.
func TestFleetLoginLockout(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	owner := newOwner(t, relay.URL)
	for i := range 4 {
		if st := owner.login("cfadmin1.guess"); st != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d", i+1, st)
		}
	}
	st, h, body := owner.post("/fleet/login", url.Values{"token": {"cfadmin1.guess"}})
	if st != http.StatusTooManyRequests || h.Get("Retry-After") != "30" || !strings.Contains(body, "30") {
		t.Fatalf("fifth wrong token: %d, Retry-After %q", st, h.Get("Retry-After"))
	}
	tok, _ := adminToken(t, f, 0)
	if st := owner.login(tok); st != http.StatusTooManyRequests {
		t.Errorf("the right token during the lockout: %d", st)
	}
}

// Revoking an admin token (jti:<id> in the revocations file) ends the
// sessions it started, including a live stream, at once.
func TestFleetRevocationEndsSessions(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.Revocations = filepath.Join(t.TempDir(), "revoked")
	os.WriteFile(cfg.Revocations, nil, 0o600)
	relay := relaytest.StartRelay(t, cfg)
	owner := newOwner(t, relay.URL)
	tok, id := adminToken(t, f, 0)
	if st := owner.login(tok); st != http.StatusSeeOther {
		t.Fatalf("login: %d", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), relaytest.Wait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, relay.URL+"/fleet/events", nil)
	resp, err := owner.c.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("events: %v %v", resp, err)
	}
	defer resp.Body.Close()
	events := sseEvents(resp.Body)
	if ev := <-events; ev.name != "snapshot" {
		t.Fatalf("first event %+v", ev)
	}

	os.WriteFile(cfg.Revocations, []byte("jti:"+id+"\n"), 0o600)
	if err := relay.Server.ReloadRevocations(); err != nil {
		t.Fatal(err)
	}
	for ev := range events {
		if ev.name == "end" {
			break
		}
	}
	if st, _, _ := owner.get("/fleet/"); st != http.StatusSeeOther {
		t.Errorf("the page after revocation: %d", st)
	}
	if st := owner.login(tok); st != http.StatusUnauthorized {
		t.Errorf("a revoked token logs in: %d", st)
	}
}

type sseEvent struct{ name, data string }

// sseEvents reads Server-Sent Events until the body ends.
func sseEvents(r io.Reader) <-chan sseEvent {
	out := make(chan sseEvent, 16)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data += line[len("data: "):]
			}
		}
	}()
	return out
}

// The live stream sends the table again when a kiosk goes offline and
// when it comes back; the page shows the agent's summary (line, ink,
// failures, version).
func TestFleetLiveStream(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	k := summaryKiosk{newKiosk("CT0700026", "Mall 3F", "mall-3f"), "online"}
	agent := startKiosk(t, f, relay.URL, k.kiosk)
	agent.Stop()
	agent = relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: relay.URL, Code: k.code, Token: f.Token(t, k.code, k.location), Handler: k})
	agent.WaitState(t, "connected", relaytest.Connected)

	owner := newOwner(t, relay.URL)
	tok, _ := adminToken(t, f, 0)
	owner.login(tok)
	ctx, cancel := context.WithTimeout(context.Background(), 3*relaytest.Wait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, relay.URL+"/fleet/events?lang=en", nil)
	resp, err := owner.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := sseEvents(resp.Body)
	waitFor := func(what string, ok func(html string) bool) {
		t.Helper()
		for ev := range events {
			var d struct{ HTML string }
			json.Unmarshal([]byte(ev.data), &d)
			if ev.name == "snapshot" && ok(d.HTML) {
				return
			}
		}
		t.Fatalf("the stream ended before %s", what)
	}
	waitFor("the kiosk's summary", func(h string) bool {
		return strings.Contains(h, `data-state="online"`) && strings.Contains(h, "2 of 20 in line") &&
			strings.Contains(h, "Low: magenta") && strings.Contains(h, "=cmd jam") && strings.Contains(h, "9.9.9")
	})
	agent.Stop()
	waitFor("the kiosk offline", func(h string) bool { return strings.Contains(h, `data-state="kiosk_offline"`) })
	relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: relay.URL, Code: k.code, Token: f.Token(t, k.code, k.location), Handler: k})
	waitFor("the kiosk back", func(h string) bool { return strings.Contains(h, `data-state="online"`) })
}

// Hostile requests to the fleet page: cross-site forms, other bodies than
// a small form, oversized cookies, odd paths and methods.
func TestFleetHostileInput(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	relay := relaytest.StartRelay(t, cfg)
	owner := newOwner(t, relay.URL)
	tok, _ := adminToken(t, f, 0)
	form := url.Values{"token": {tok}}
	if st, _, _ := owner.post("/fleet/login", form, "Origin", "https://evil.example"); st != http.StatusForbidden {
		t.Errorf("cross-origin login: %d", st)
	}
	if st, _, _ := owner.post("/fleet/login", form, "Sec-Fetch-Site", "cross-site"); st != http.StatusForbidden {
		t.Errorf("cross-site login: %d", st)
	}
	if st, _, _ := owner.post("/fleet/login", form, "Content-Type", "application/json"); st != http.StatusUnsupportedMediaType {
		t.Errorf("JSON login: %d", st)
	}
	if st, _, _ := owner.post("/fleet/login", url.Values{"token": {strings.Repeat("A", 20<<10)}}); st != http.StatusBadRequest {
		t.Errorf("oversized login form: %d", st)
	}
	if st, _, _ := owner.post("/fleet/login", url.Values{"token": {"cfadmin1." + strings.Repeat("%", 100)}}); st != http.StatusUnauthorized {
		t.Errorf("garbage token: %d", st)
	}
	for path, want := range map[string]int{
		"/fleet/nothing": 404, "/fleet/sticker/..%2Fx.svg": 400, "/fleet/sticker/x": 401, "/fleet/./": 400, "/fleet": 301,
	} {
		if st, _, _ := owner.get(path); st != want {
			t.Errorf("GET %s: %d, want %d", path, st, want)
		}
	}
	req, _ := http.NewRequest(http.MethodPut, relay.URL+"/fleet/", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT /fleet/: %v %v", resp, err)
	}
	req, _ = http.NewRequest(http.MethodGet, relay.URL+"/fleet/", nil)
	req.AddCookie(&http.Cookie{Name: "casefleet_fleet", Value: strings.Repeat("x", 4000)})
	if resp, err := (&http.Client{CheckRedirect: owner.c.CheckRedirect}).Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("an oversized cookie: %v %v", resp, err)
	}
	owner.login(tok)
	if st, _, page := owner.get("/fleet/?location=" + url.QueryEscape("<script>") + "&problem=" + strings.Repeat("x", 10000)); st != http.StatusOK || strings.Contains(page, "<script>") {
		t.Errorf("hostile filters: %d", st)
	}
}

// The relay never forwards its own summary path to an agent: a phone
// cannot reach it, however it spells it.
func TestSummaryIsNotForwarded(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	k := newKiosk("CT0700026", "Mall 3F", "mall-3f")
	startKiosk(t, f, relay.URL, k)
	for _, p := range []string{summary.Path, "/api/chitu/machine/CT0700026/../../../relay/v1/summary",
		"/api/chitu/machine/CT0700026/%2e%2e/%2e%2e/%2e%2e/relay/v1/summary", "/app/../relay/v1/summary", "//relay/v1/summary"} {
		st, _, _ := do(t, http.MethodGet, relay.URL+p, nil)
		if st != http.StatusNotFound && st != http.StatusBadRequest {
			t.Errorf("GET %s: %d", p, st)
		}
	}
	for _, r := range k.requests() {
		if strings.Contains(r, "summary") {
			t.Errorf("the agent was asked %s by a phone", r)
		}
	}
}

// olderKiosk is an agent from before the summary: 404 for it, as the
// agent's API answers any path it does not know.
type olderKiosk struct{ *kiosk }

func (k olderKiosk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == summary.Path {
		http.NotFound(w, r)
		return
	}
	k.kiosk.ServeHTTP(w, r)
}

// An agent older than the summary still shows what its public status
// says: online, its line.
func TestFleetShowsAnOlderAgent(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	k := olderKiosk{newKiosk("CT0700026", "Mall 3F", "mall-3f")}
	relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: relay.URL, Code: k.code, Token: f.Token(t, k.code, k.location), Handler: k})
	relaytest.WaitRoutable(t, relay.URL, k.code)
	owner := newOwner(t, relay.URL)
	tok, _ := adminToken(t, f, 0)
	owner.login(tok)
	_, _, page := owner.get("/fleet/?lang=en")
	if !strings.Contains(page, `data-state="online"`) || !strings.Contains(page, "2 in line") || !strings.Contains(page, "Mall 3F") {
		t.Errorf("the older agent's row:\n%s", between(page, `<tbody>`, `</tbody>`))
	}
}

// Behind a TLS-terminating load balancer (a trusted proxy saying
// X-Forwarded-Proto: https), the session cookie is Secure; the login's
// Origin is then the https one.
func TestFleetCookieSecureOverHTTPS(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.TrustedProxies = []string{"127.0.0.0/8"}
	relay := relaytest.StartRelay(t, cfg)
	owner := newOwner(t, relay.URL)
	tok, _ := adminToken(t, f, 0)
	host := strings.TrimPrefix(relay.URL, "http://")
	st, h, _ := owner.post("/fleet/login", url.Values{"token": {tok}}, "X-Forwarded-Proto", "https", "Origin", "https://"+host)
	if st != http.StatusSeeOther || !strings.Contains(h.Get("Set-Cookie"), "; Secure") {
		t.Errorf("login over https: %d, cookie %q", st, h.Get("Set-Cookie"))
	}
	if st, _, _ := owner.post("/fleet/login", url.Values{"token": {tok}}, "X-Forwarded-Proto", "https", "Origin", relay.URL); st != http.StatusForbidden {
		t.Errorf("an http Origin for an https page: %d", st)
	}
}

// A relay whose Redis does not answer cannot keep a session: a good token
// is told to try again (503, Retry-After), not that it is wrong.
func TestFleetLoginWithoutRedis(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.RedisURL = "redis://127.0.0.1:1" // nothing listens there
	relay := relaytest.StartRelay(t, cfg)
	owner := newOwner(t, relay.URL)
	tok, _ := adminToken(t, f, 0)
	st, h, body := owner.post("/fleet/login?lang=en", url.Values{"token": {tok}})
	if st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(body, "cannot keep sessions") {
		t.Errorf("login without Redis: %d, Retry-After %q", st, h.Get("Retry-After"))
	}
	if st, _, _ := owner.get("/fleet/"); st != http.StatusSeeOther {
		t.Errorf("the page without Redis: %d", st)
	}
}

// With Redis, the relays count a client's wrong tokens together: three at
// one relay and two at the other lock it out of both.
func TestFleetLockoutAcrossRelays(t *testing.T) {
	redis := "redis://" + testenv.RedisAddr(t)
	f := relaytest.NewFleet(t)
	prefix := "casefleet-test:" + randomHex(t) + ":"
	start := func(id string) *relaytest.Relay {
		cfg := f.Config(t)
		cfg.RedisURL, cfg.RedisPrefix, cfg.InstanceID = redis, prefix, id
		return relaytest.StartRelay(t, cfg)
	}
	a, b := newOwner(t, start("relay-a").URL), newOwner(t, start("relay-b").URL)
	for range 3 {
		if st := a.login("cfadmin1.guess"); st != http.StatusUnauthorized {
			t.Fatalf("a wrong token at A: %d", st)
		}
	}
	if st := b.login("cfadmin1.guess"); st != http.StatusUnauthorized {
		t.Fatalf("the fourth wrong token, at B: %d", st)
	}
	if st := b.login("cfadmin1.guess"); st != http.StatusTooManyRequests {
		t.Fatalf("the fifth wrong token, at B: %d", st)
	}
	tok, _ := adminToken(t, f, 0)
	if st := a.login(tok); st != http.StatusTooManyRequests {
		t.Errorf("the right token at A during the lockout: %d", st)
	}
}

func randomHex(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// The live stream is not a request whose duration is latency: the relay's
// request metrics leave it out, as the agent's do.
func TestFleetStreamIsNotTimed(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	owner := newOwner(t, relay.URL)
	tok, _ := adminToken(t, f, 0)
	owner.login(tok)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, relay.URL+"/fleet/events", nil)
	resp, err := owner.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-sseEvents(resp.Body); ev.name != "snapshot" {
		t.Fatalf("first event %+v", ev)
	}
	cancel()
	resp.Body.Close()
	owner.get("/fleet/fleet.csv")
	_, _, metrics := owner.get("/metrics")
	if !strings.Contains(metrics, `route="GET /fleet/fleet.csv"`) {
		t.Errorf("the CSV export is not counted:\n%s", grepLines(metrics, "/fleet/"))
	}
	if strings.Contains(metrics, `route="GET /fleet/events"`) {
		t.Errorf("the live stream is timed as a request:\n%s", grepLines(metrics, "/fleet/events"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// countingKiosk counts the relay's summary requests.
type countingKiosk struct {
	summaryKiosk
	asked *atomic.Int32
}

func (k countingKiosk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == summary.Path {
		k.asked.Add(1)
	}
	k.summaryKiosk.ServeHTTP(w, r)
}

// While nobody looks at the fleet page the relay asks its agents nothing
// (gathering thousands of tunnels every 5 s cost the relay 40 KiB of
// memory per idle tunnel); opening the page gathers at once, and the page
// shows what the agent says.
func TestFleetIsGatheredOnlyWhileSomeoneLooks(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	k := countingKiosk{summaryKiosk{newKiosk("CT0700026", "Mall 3F", "mall-3f"), "online"}, new(atomic.Int32)}
	relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: relay.URL, Code: k.code, Token: f.Token(t, k.code, k.location), Handler: k})
	relaytest.WaitRoutable(t, relay.URL, k.code)
	// Two of the watcher's checks (one a second), and a tunnel that came:
	// a round would have run by now if it ran unasked.
	time.Sleep(2500 * time.Millisecond)
	if n := k.asked.Load(); n != 0 {
		t.Fatalf("the relay asked the agent for its summary %d times with no fleet page open", n)
	}
	owner := newOwner(t, relay.URL)
	tok, _ := adminToken(t, f, 0)
	owner.login(tok)
	status, _, body := owner.get("/fleet/?lang=en")
	if status != http.StatusOK || !strings.Contains(body, "CT0700026") || !strings.Contains(body, "9.9.9") {
		t.Fatalf("fleet page = %d, without the agent's summary:\n%s", status, body)
	}
	if k.asked.Load() == 0 {
		t.Error("the page shows a summary the agent was not asked for")
	}
}
