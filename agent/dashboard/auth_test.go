package dashboard_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"casefleet/agent/dashboard"
	"casefleet/agent/queue"
	"casefleet/shared/testenv"
)

// browser is a client that keeps cookies and does not follow redirects,
// so each answer can be checked.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       20 * time.Second,
	}}
}

// send makes a request as a browser on the dashboard's own page would,
// plus the given headers.
func (b *browser) send(method, path string, body string, headers ...string) *http.Response {
	b.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.base+path, r)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp
}

func (b *browser) login(pin string) *http.Response {
	b.t.Helper()
	return b.send(http.MethodPost, "/operator/login", url.Values{"pin": {pin}}.Encode())
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWithoutAPINTheDashboardIsOffAndSaysWhichSettingToSet(t *testing.T) {
	k := startKiosk(t, kioskOptions{PIN: "-"})
	b := newBrowser(t, k.URL)

	for _, path := range []string{"/operator/", "/operator/login"} {
		resp := b.send(http.MethodGet, path, "")
		page := body(t, resp)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "lan.operator_pin") || !strings.Contains(page, "CASEFLEET_LAN_OPERATOR_PIN") {
			t.Errorf("GET %s: %s, want 403 naming the setting: %.400s", path, resp.Status, page)
		}
	}
	if resp := b.login("anything"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST login: %s, want 403", resp.Status)
	}
	op := k.operator(t)
	for _, pin := range []string{"", "anything"} {
		op.pin = pin
		resp := op.do(http.MethodGet, "/operator/api/state")
		if code := errorCode(t, resp); resp.StatusCode != http.StatusForbidden || code != "dashboard_off" {
			t.Errorf("bearer %q: %s %s, want 403 dashboard_off", pin, resp.Status, code)
		}
	}
}

func TestAShortPINIsRefused(t *testing.T) {
	_, err := dashboard.New(dashboard.Options{PIN: "12345"})
	if err == nil || !strings.Contains(err.Error(), "lan.operator_pin") {
		t.Fatalf("New with a 5-character PIN: %v, want an error naming lan.operator_pin", err)
	}
}

func TestTheOperatorAPINeedsTheRightPIN(t *testing.T) {
	k := startKiosk(t, kioskOptions{})
	forged := "v1." + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + ".00112233445566778899aabbccddeeff.c2lnbmF0dXJl"
	tests := []struct {
		name       string
		headers    []string
		wantStatus int
		wantCode   string
	}{
		{"nothing", nil, http.StatusUnauthorized, "login_required"},
		{"wrong PIN", []string{"Authorization", "Bearer 999999"}, http.StatusUnauthorized, "wrong_pin"},
		{"empty bearer", []string{"Authorization", "Bearer "}, http.StatusUnauthorized, "bad_credentials"},
		{"basic auth", []string{"Authorization", "Basic b3BlcmF0b3I6MjQ2ODEw"}, http.StatusUnauthorized, "bad_credentials"},
		{"huge header", []string{"Authorization", "Bearer " + strings.Repeat("9", 4000)}, http.StatusUnauthorized, "bad_credentials"},
		{"PIN as a prefix", []string{"Authorization", "Bearer " + testPIN + "0"}, http.StatusUnauthorized, "wrong_pin"},
		{"forged cookie", []string{"Cookie", "casefleet_operator=" + forged}, http.StatusUnauthorized, "login_required"},
		{"junk cookie", []string{"Cookie", "casefleet_operator=" + strings.Repeat("x.", 300)}, http.StatusUnauthorized, "login_required"},
		{"right PIN", []string{"Authorization", "Bearer " + testPIN}, http.StatusOK, ""},
		{"right PIN, lower-case scheme", []string{"Authorization", "bearer " + testPIN}, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t, k.URL)
			resp := b.send(http.MethodGet, "/operator/api/state", "", tt.headers...)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("%s, want %d: %s", resp.Status, tt.wantStatus, body(t, resp))
			}
			if tt.wantCode != "" {
				if code := errorCode(t, resp); code != tt.wantCode {
					t.Errorf("error code %q, want %q", code, tt.wantCode)
				}
			} else {
				resp.Body.Close()
			}
		})
	}
	// Fewer than five wrong PINs so far: the right one still works.
	k.operator(t).state()

	b := newBrowser(t, k.URL)
	if resp := b.send(http.MethodGet, "/operator/", ""); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/operator/login" {
		t.Errorf("GET /operator/ without a session: %s to %q, want 303 to the login page", resp.Status, resp.Header.Get("Location"))
	}
	if resp := b.send(http.MethodGet, "/operator", ""); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/operator/" {
		t.Errorf("GET /operator: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
}

func TestLoginStartsASessionInAStrictHttpOnlyCookie(t *testing.T) {
	k := startKiosk(t, kioskOptions{})
	b := newBrowser(t, k.URL)

	resp := b.send(http.MethodGet, "/operator/login", "")
	if page := body(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="pin"`) {
		t.Fatalf("login page: %s %.300s", resp.Status, page)
	}
	resp = b.login(testPIN)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/operator/" {
		t.Fatalf("login: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	var c *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "casefleet_operator" {
			c = ck
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/operator/" || c.MaxAge <= 0 {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/operator/, an expiry", c)
	}
	if strings.Contains(c.Value, testPIN) {
		t.Fatal("the cookie carries the PIN")
	}

	resp = b.send(http.MethodGet, "/operator/", "")
	if page := body(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(page, "/operator/static/app.js") {
		t.Fatalf("dashboard page: %s", resp.Status)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	resp = b.send(http.MethodGet, "/operator/api/state", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("state with the session: %s", resp.Status)
	}
	resp.Body.Close()
	// The login page sends a logged-in operator on to the dashboard.
	if resp := b.send(http.MethodGet, "/operator/login", ""); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login page with a session: %s, want 303", resp.Status)
	}

	resp = b.send(http.MethodPost, "/operator/logout", "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", resp.Status)
	}
	if resp := b.send(http.MethodGet, "/operator/api/state", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("state after logout: %s, want 401", resp.Status)
	}
}

func TestAnExpiredSessionIsRefused(t *testing.T) {
	clock := testenv.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	k := startKiosk(t, kioskOptions{Now: clock.Now})
	b := newBrowser(t, k.URL)
	b.login(testPIN).Body.Close()
	if resp := b.send(http.MethodGet, "/operator/api/state", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("state: %s", resp.Status)
	}
	clock.Advance(12*time.Hour + time.Second) // a session lasts a shift
	if resp := b.send(http.MethodGet, "/operator/api/state", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("state after the session ended: %s, want 401", resp.Status)
	}
}

func TestWrongPINsLockTheDeviceOutForLongerEachTime(t *testing.T) {
	clock := testenv.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	k := startKiosk(t, kioskOptions{Now: clock.Now})
	b := newBrowser(t, k.URL)

	for i := 1; i < 5; i++ { // five tries, then a pause
		resp := b.login("000000")
		page := body(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "not right") {
			t.Fatalf("wrong PIN %d: %s %.300s", i, resp.Status, page)
		}
	}
	resp := b.login("000000")
	page := body(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "30" || !strings.Contains(page, "Try again in 30 seconds") {
		t.Fatalf("wrong PIN %d: %s, Retry-After %q: %.400s", 5, resp.Status, resp.Header.Get("Retry-After"), page)
	}
	// Locked: even the right PIN is not looked at, by form or by script.
	if resp := b.login(testPIN); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("right PIN while locked out: %s, want 429", resp.Status)
	}
	op := k.operator(t)
	if resp := op.do(http.MethodGet, "/operator/api/state"); resp.StatusCode != http.StatusTooManyRequests || errorCode(t, resp) != "locked_out" {
		t.Fatalf("bearer PIN while locked out: %s", resp.Status)
	}

	clock.Advance(31 * time.Second)
	op.pin = "000000" // a script guessing counts too, and doubles the pause
	resp = op.do(http.MethodGet, "/operator/api/state")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" {
		t.Fatalf("another wrong PIN after the pause: %s, Retry-After %q; want 429 for 60s", resp.Status, resp.Header.Get("Retry-After"))
	}
	resp.Body.Close()
	clock.Advance(61 * time.Second)
	resp = b.login(testPIN)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("right PIN after the pause: %s, want 303", resp.Status)
	}
	// A right PIN forgives: the next wrong one is a first again.
	if resp := b.login("000000"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong PIN after logging in: %s, want 401", resp.Status)
	}
}

func TestStateChangesNeedProofTheyComeFromTheDashboard(t *testing.T) {
	k := startKiosk(t, kioskOptions{})
	b := newBrowser(t, k.URL)
	b.login(testPIN).Body.Close()

	tests := []struct {
		name     string
		headers  []string
		want     int
		wantCode string
	}{
		{"cookie without the header", nil, http.StatusForbidden, "csrf"},
		{"header but another site", []string{"X-Casefleet-Operator", "1", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, "cross_origin"},
		{"header but a foreign origin", []string{"X-Casefleet-Operator", "1", "Sec-Fetch-Site", "", "Origin", "http://evil.example"}, http.StatusForbidden, "cross_origin"},
		{"header and same origin", []string{"X-Casefleet-Operator", "1"}, http.StatusOK, ""},
	}
	for _, tt := range tests {
		resp := b.send(http.MethodPost, "/operator/api/pause", "", tt.headers...)
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %s, want %d", tt.name, resp.Status, tt.want)
		}
		if tt.wantCode != "" {
			if code := errorCode(t, resp); code != tt.wantCode {
				t.Errorf("%s: code %q, want %q", tt.name, code, tt.wantCode)
			}
		} else {
			resp.Body.Close()
		}
	}
	// A login form posted from another site is refused too.
	other := newBrowser(t, k.URL)
	if resp := other.send(http.MethodPost, "/operator/login", "pin="+testPIN, "Sec-Fetch-Site", "cross-site"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site login: %s, want 403", resp.Status)
	}
	// Scripts with the PIN need no header: a browser never sends it by itself.
	k.operator(t).must(http.MethodPost, "/operator/api/resume", http.StatusOK, nil)
}

func TestHostileRequests(t *testing.T) {
	k := startKiosk(t, kioskOptions{})
	op := k.operator(t)
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, "/operator/api/orders/not-an-id/cancel", http.StatusBadRequest},
		{http.MethodPost, "/operator/api/orders/" + strings.Repeat("A", 5000) + "/cancel", http.StatusBadRequest},
		{http.MethodPost, "/operator/api/orders/%2e%2e%2f%2e%2e/cancel", http.StatusBadRequest},
		{http.MethodPost, "/operator/api/orders/" + queue.NewID() + "/cancel", http.StatusNotFound},
		{http.MethodGet, "/operator/api/qr.png?scale=0", http.StatusBadRequest},
		{http.MethodGet, "/operator/api/qr.png?scale=99999999999", http.StatusBadRequest},
		{http.MethodGet, "/operator/api/qr.svg", http.StatusConflict}, // no relay: no link to draw
		{http.MethodGet, "/operator/api/nope", http.StatusNotFound},
		{http.MethodGet, "/operator/api/pause", http.StatusNotFound},
		{http.MethodDelete, "/operator/api/state", http.StatusNotFound},
		{http.MethodGet, "/operator/static/../dashboard.go", http.StatusNotFound},
		{http.MethodGet, "/operator/static/index.html", http.StatusNotFound},
	}
	for _, tt := range tests {
		resp := op.do(tt.method, tt.path)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %.80s: %s, want %d", tt.method, tt.path, resp.Status, tt.want)
		}
	}
	// An oversized login form is not read to the end.
	b := newBrowser(t, k.URL)
	if resp := b.login(strings.Repeat("1", 8<<10)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("oversized login form: %s, want 400", resp.Status)
	}
}
