package tunnel

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestConnectURL(t *testing.T) {
	tests := []struct {
		relay   string
		want    string
		wantErr string
	}{
		{"https://relay.example.com", "https://relay.example.com/agent/connect", ""},
		{"https://relay.example.com/", "https://relay.example.com/agent/connect", ""},
		{"https://relay.example.com:8443/casefleet/", "https://relay.example.com:8443/casefleet/agent/connect", ""},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/agent/connect", ""},
		{"http://127.9.9.9:8080", "http://127.9.9.9:8080/agent/connect", ""},
		{"http://[::1]:8080", "http://[::1]:8080/agent/connect", ""},
		{"http://localhost:8080", "http://localhost:8080/agent/connect", ""},
		{"http://relay.example.com", "", "plain http:// is only allowed to a relay on this machine"},
		{"http://192.168.1.10:8080", "", "plain http:// is only allowed"},
		{"http://localhost.evil.com", "", "plain http:// is only allowed"},
		{"http://127.0.0.1.nip.io", "", "plain http:// is only allowed"},
		{"ws://127.0.0.1:8080", "", "want https://"},
		{"ftp://relay.example.com", "", "want https://"},
		{"relay.example.com", "", "want https://"},
		{"", "", "empty"},
		{"https://", "", "no host"},
		{"https://user:pw@relay.example.com", "", "must not carry a user or password"},
		{"https://relay.example.com/?x=1", "", "without query"},
		{"https://relay.example.com/#top", "", "without query or fragment"},
		{"https://relay example.com", "", "relay URL"},
		{"https://" + strings.Repeat("a", maxURLLen), "", "at most"},
	}
	for _, tt := range tests {
		got, err := connectURL(tt.relay)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("connectURL(%.40q) = %q, %v; want an error saying %q", tt.relay, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("connectURL(%q) = %q, %v; want %q", tt.relay, got, err, tt.want)
		}
	}
}

func TestParsePublicURL(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"https://relay.example.com", "https://relay.example.com", true},
		{"https://relay.example.com/", "https://relay.example.com", true},
		{"https://relay.example.com/k/CT0700026/", "https://relay.example.com/k/CT0700026", true},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"http://relay//", "http://relay", true}, // found by FuzzParsePublicURL
		{"javascript:alert(1)", "", false},
		{"/relative", "", false},
		{"https://u:p@relay.example.com", "", false},
		{"https://relay.example.com/?a=b", "", false},
		{"https://relay.example.com/#x", "", false},
		{"https://" + strings.Repeat("a", maxURLLen), "", false},
	}
	for _, tt := range tests {
		got, err := parsePublicURL(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parsePublicURL(%.40q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header, want string
		ok           bool
	}{
		{"Bearer cf1.abc.def", "cf1.abc.def", true},
		{"bearer cf1.abc.def", "cf1.abc.def", true},
		{"Bearer   cf1.abc.def", "cf1.abc.def", true},
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic Zm9vOmJhcg==", "", false},
		{"Bearer a b", "", false},
		{"Bearer a\tb", "", false},
		{"BearerX abc", "", false},
	}
	for _, tt := range tests {
		got, ok := bearerToken(tt.header)
		if ok != tt.ok || got != tt.want {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseRefusal(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		code        string
		message     string
		permanent   bool
	}{
		{"ours", 401, "application/json", `{"error":{"code":"token_expired","message":"token for CT0700026 expired on 2026-11-01 10:00 UTC; issue a new one"}}`,
			"token_expired", "token for CT0700026 expired on 2026-11-01 10:00 UTC; issue a new one", true},
		{"revoked", 403, "application/json", `{"error":{"code":"token_revoked","message":"every token for CT0700026 is revoked"}}`,
			"token_revoked", "every token for CT0700026 is revoked", true},
		{"relay busy", 503, "application/json", `{"error":{"code":"unavailable","message":"directory down"}}`, "unavailable", "directory down", false},
		{"rate limited", 429, "application/json", `{"error":{"code":"rate_limited","message":"slow down"}}`, "rate_limited", "slow down", false},
		{"proxy page", 502, "text/html", "<html><body>Bad Gateway</body></html>", "", "HTTP 502 Bad Gateway", false},
		{"plain text", 400, "text/plain; charset=utf-8", "WebSocket protocol violation: bad key\nmore", "", "HTTP 400 Bad Request: WebSocket protocol violation: bad key", true},
		{"wrong endpoint", 404, "text/plain", "404 page not found\n", "", "HTTP 404 Not Found: 404 page not found", true},
		{"no body", 401, "", "", "", "HTTP 401 Unauthorized", true},
		{"hostile message", 403, "application/json", `{"error":{"code":"x\u001b[31m","message":"line1\nline2\u0000\u001b[2J"}}`,
			"x [31m", "line1 line2  [2J", true},
		{"JSON without message", 401, "application/json", `{"error":{"code":"x"}}`, "", "HTTP 401 Unauthorized", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := parseRefusal(tt.status, tt.contentType, []byte(tt.body))
			if e.Status != tt.status || e.Code != tt.code || e.Message != tt.message {
				t.Errorf("parseRefusal = %d %q %q, want %d %q %q", e.Status, e.Code, e.Message, tt.status, tt.code, tt.message)
			}
			if e.permanent() != tt.permanent {
				t.Errorf("permanent = %v, want %v", e.permanent(), tt.permanent)
			}
			if !strings.HasPrefix(e.Error(), "relay refused the tunnel: ") {
				t.Errorf("Error() = %q", e.Error())
			}
		})
	}
	long := parseRefusal(403, "application/json", []byte(`{"error":{"code":"x","message":"`+strings.Repeat("é", 1000)+`"}}`))
	if len(long.Message) > maxReasonLen+3 || !utf8.ValidString(long.Message) {
		t.Errorf("a long message is cut to %d bytes, valid UTF-8 %v", len(long.Message), utf8.ValidString(long.Message))
	}
}

func TestWriteRefusalRoundTrip(t *testing.T) {
	w := httptest.NewRecorder()
	writeRefusal(w, http.StatusForbidden, "token_revoked", "every token for CT0700026 is revoked")
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	e := parseRefusal(w.Code, w.Header().Get("Content-Type"), w.Body.Bytes())
	if e.Status != 403 || e.Code != "token_revoked" || e.Message != "every token for CT0700026 is revoked" {
		t.Errorf("round trip = %+v", e)
	}
}

func TestBackoff(t *testing.T) {
	top := func(n time.Duration) time.Duration { return n - 1 } // always the longest delay
	b := backoff{min: 100 * time.Millisecond, max: time.Second, random: top}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := b.next(); got != w*time.Millisecond {
			t.Errorf("delay %d = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	b.reset()
	if got := b.next(); got != 100*time.Millisecond {
		t.Errorf("after reset: %v, want the minimum", got)
	}
	if got := b.longest(); got != time.Second {
		t.Errorf("longest = %v, want the maximum", got)
	}

	// While the relay is down the delays stop growing at down: back
	// within that long of the relay, however long it was away; a refusal
	// still waits the longest.
	b = backoff{min: DefaultMinBackoff, max: DefaultMaxBackoff, down: downBackoff, random: top}
	for range 20 {
		b.next()
	}
	if got := b.next(); got != downBackoff {
		t.Errorf("delay after a long outage = %v, want %v", got, downBackoff)
	}
	if got := b.longest(); got != DefaultMaxBackoff {
		t.Errorf("longest with down set = %v, want %v", got, DefaultMaxBackoff)
	}

	bottom := func(time.Duration) time.Duration { return 0 }
	b = backoff{min: 100 * time.Millisecond, max: time.Second, random: bottom}
	if got := b.next(); got != 50*time.Millisecond {
		t.Errorf("shortest jittered delay = %v, want half the step", got)
	}

	// Real randomness stays within bounds, and never overflows however
	// long the agent has been failing.
	b = backoff{min: DefaultMinBackoff, max: DefaultMaxBackoff}
	for i := range 200 {
		d := b.next()
		if d < DefaultMinBackoff/2 || d > DefaultMaxBackoff {
			t.Fatalf("delay %d = %v, outside [%v, %v]", i, d, DefaultMinBackoff/2, DefaultMaxBackoff)
		}
	}
}
