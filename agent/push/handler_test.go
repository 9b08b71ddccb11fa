package push

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"casefleet/agent/push/pushtest"
)

// call makes one request to the push API of machine CT0700026.
func call(t *testing.T, srv *httptest.Server, method, suffix, sessionID, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+"/api/chitu/machine/CT0700026/push"+suffix, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if sessionID != "" {
		req.Header.Set("X-Session-Id", sessionID)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: answer %q is not JSON", method, suffix, b)
		}
	}
	return resp.StatusCode, out
}

func errorCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func TestSubscriptionAPI(t *testing.T) {
	p := newParts(t, func(o *Options) { o.MaxSubscriptions = 2 })
	srv := httptest.NewServer(p.svc.Handler())
	t.Cleanup(srv.Close)
	start := func(code string) string {
		s, _, err := p.sessions.Start(code, "")
		if err != nil {
			t.Fatal(err)
		}
		return s.SessionID
	}
	mine := start("CT0700026")
	b := pushtest.NewBrowser(t, "http://127.0.0.1:9/push/one")

	t.Run("the public key is the VAPID key", func(t *testing.T) {
		status, out := call(t, srv, http.MethodGet, "/key", "", "")
		if status != http.StatusOK || out["publicKey"] != p.svc.PublicKey() {
			t.Fatalf("%d %v", status, out)
		}
	})
	t.Run("subscribe stores one subscription per session", func(t *testing.T) {
		status, out := call(t, srv, http.MethodPost, "", mine, b.Subscription("de"))
		if status != http.StatusCreated || out["lang"] != "de" {
			t.Fatalf("%d %v", status, out)
		}
		again := pushtest.NewBrowser(t, "http://127.0.0.1:9/push/two")
		if status, out := call(t, srv, http.MethodPost, "", mine, again.Subscription("de")); status != http.StatusCreated {
			t.Fatalf("subscribing again: %d %v", status, out)
		}
		rec, ok, err := p.svc.store.get(mine)
		if err != nil || !ok || rec.Endpoint != again.Endpoint || rec.Lang != "de" {
			t.Fatalf("stored %+v %v %v; want the newer subscription", rec, ok, err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		other := start("CT0700027")
		for _, c := range []struct {
			name, method, session, body string
			status                      int
			code                        string
		}{
			{"no session", http.MethodPost, "", b.Subscription("en"), 400, "session_required"},
			{"unknown session", http.MethodPost, strings.Repeat("A", 26), b.Subscription("en"), 403, "session_invalid"},
			{"malformed session", http.MethodPost, "../../etc/passwd", b.Subscription("en"), 403, "session_invalid"},
			{"another machine's session", http.MethodPost, other, b.Subscription("en"), 403, "session_invalid"},
			{"not a subscription", http.MethodPost, mine, `{"endpoint":"x"}`, 400, "bad_subscription"},
			{"an endpoint on the LAN", http.MethodPost, mine, pushtest.NewBrowser(t, "https://192.168.1.1/x").Subscription("en"), 400, "bad_subscription"},
			{"an oversized body", http.MethodPost, mine, strings.Repeat(" ", 5000) + b.Subscription("en"), 413, "too_large"},
			{"a wrong method", http.MethodPut, mine, b.Subscription("en"), 405, "method_not_allowed"},
			{"an unknown path", http.MethodGet, mine, "", 404, "not_found"},
		} {
			suffix := ""
			if c.name == "an unknown path" {
				suffix = "/secret"
			}
			status, out := call(t, srv, c.method, suffix, c.session, c.body)
			if status != c.status || errorCode(out) != c.code {
				t.Errorf("%s: %d %v, want %d %s", c.name, status, out, c.status, c.code)
			}
		}
	})
	t.Run("the number of subscriptions is capped", func(t *testing.T) {
		second, third := start("CT0700026"), start("CT0700026")
		if status, out := call(t, srv, http.MethodPost, "", second, b.Subscription("en")); status != http.StatusCreated {
			t.Fatalf("second: %d %v", status, out)
		}
		if status, out := call(t, srv, http.MethodPost, "", third, b.Subscription("en")); status != http.StatusServiceUnavailable || errorCode(out) != "push_full" {
			t.Fatalf("over the cap: %d %v", status, out)
		}
		// Replacing one's own subscription is still possible at the cap.
		if status, _ := call(t, srv, http.MethodPost, "", second, b.Subscription("fr")); status != http.StatusCreated {
			t.Fatalf("replacing at the cap: %d", status)
		}
	})
	t.Run("unsubscribe forgets it", func(t *testing.T) {
		if status, _ := call(t, srv, http.MethodDelete, "", mine, ""); status != http.StatusNoContent {
			t.Fatalf("delete: %d", status)
		}
		if _, ok, _ := p.svc.store.get(mine); ok {
			t.Fatal("still stored")
		}
		if status, _ := call(t, srv, http.MethodDelete, "", mine, ""); status != http.StatusNoContent {
			t.Fatalf("deleting again: %d", status)
		}
	})
}
