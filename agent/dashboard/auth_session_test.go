package dashboard_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"casefleet/agent/dashboard"
)

// loginCookie logs in through the form and returns the session cookie.
func loginCookie(t *testing.T, base, pin string) *http.Cookie {
	t.Helper()
	b := newBrowser(t, base)
	resp := b.login(pin)
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "casefleet_operator" && c.Value != "" {
			return c
		}
	}
	t.Fatalf("login: %s, no session cookie", resp.Status)
	return nil
}

// withCookie sends a request carrying exactly cookie c, as a copy of it
// would be sent from anywhere.
func withCookie(t *testing.T, ctx context.Context, method, u string, c *http.Cookie) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(c)
	if method == http.MethodPost {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// Logging out ends the session on the agent: the same cookie, replayed,
// no longer reads anything, and a live stream open under it ends.
func TestLogoutEndsTheSessionForEveryCopyOfTheCookie(t *testing.T) {
	k := startKiosk(t, kioskOptions{})
	c := loginCookie(t, k.URL, testPIN)
	ctx := t.Context()

	resp := withCookie(t, ctx, http.MethodGet, k.URL+"/operator/api/state", c)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("state with the session: %s", resp.Status)
	}
	stream := withCookie(t, ctx, http.MethodGet, k.URL+"/operator/api/events", c)
	defer stream.Body.Close()
	if stream.StatusCode != http.StatusOK {
		t.Fatalf("live stream: %s", stream.Status)
	}
	events := bufio.NewReader(stream.Body)
	if _, err := events.ReadString('\n'); err != nil {
		t.Fatalf("live stream: %v", err)
	}

	resp = withCookie(t, ctx, http.MethodPost, k.URL+"/operator/logout", c)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", resp.Status)
	}
	resp = withCookie(t, ctx, http.MethodGet, k.URL+"/operator/api/state", c)
	if code := errorCode(t, resp); resp.StatusCode != http.StatusUnauthorized || code != "login_required" {
		t.Errorf("state with the cookie after logout: %s %s, want 401 login_required", resp.Status, code)
	}
	resp = withCookie(t, ctx, http.MethodGet, k.URL+"/operator/", c)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("dashboard page with the cookie after logout: %s, want 303 to the login page", resp.Status)
	}

	// The stream ends by itself (well before its 20 s keepalive).
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := events.ReadString('\n'); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("the live stream is still open after logout")
	}
}

// Sessions belong to the agent that started them: after a restart (which
// a PIN change needs) every earlier cookie is refused, whatever the PIN.
func TestARestartWithANewPINEndsEverySession(t *testing.T) {
	k := startKiosk(t, kioskOptions{})
	c := loginCookie(t, k.URL, testPIN)

	for _, pin := range []string{"135790", testPIN} {
		restarted, err := dashboard.New(dashboard.Options{PIN: pin, MachineCode: testCode, Queue: k.Q, Machine: k.Disp, Printer: k.Link})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(restarted.Handler())
		resp := withCookie(t, t.Context(), http.MethodGet, srv.URL+"/operator/api/state", c)
		if code := errorCode(t, resp); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("PIN %s after a restart: the old cookie reads the state (%s %s)", pin, resp.Status, code)
		}
		if got := loginCookie(t, srv.URL, pin); got.Value == c.Value {
			t.Error("a new login got the old session's cookie")
		}
		srv.Close()
	}
}
