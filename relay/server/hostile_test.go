package server_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"casefleet/relay/relaytest"
)

// rawExchange sends raw bytes to addr and reads one answer (the first,
// which may be a 100 Continue), giving up after within.
func rawExchange(t *testing.T, addr, request string, within time.Duration) (*http.Response, string, net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(within))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer within %v: %v", within, err)
	}
	body := ""
	if resp.StatusCode >= 200 {
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
	}
	return resp, body, c, br
}

// TestExpectContinue: a body declared over max_body_bytes is refused with
// 413 at once, before the client sends it (RFC 9110 wants 100 or a final
// status); a body within the limit is asked for with 100 Continue.
func TestExpectContinue(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.MaxBodyBytes = 1 << 20
	cfg.RequestTimeout = time.Minute // what the client waited for before
	relay := relaytest.StartRelay(t, cfg)
	startKiosk(t, f, relay.URL, newKiosk("CT0700026", "East", "mall-3f"))

	head := func(n int64) string {
		return "POST " + api + "CT0700026/upload HTTP/1.1\r\nHost: relay\r\nContent-Type: image/png\r\n" +
			"Expect: 100-continue\r\nContent-Length: " + strconv.FormatInt(n, 10) + "\r\n\r\n"
	}

	t.Run("over the limit", func(t *testing.T) {
		resp, body, _, _ := rawExchange(t, relay.Addr, head(cfg.MaxBodyBytes+1), 3*time.Second)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("first answer = %s, want 413 before the body", resp.Status)
		}
		if code := decodeError(t, body).Error.Code; code != "too_large" {
			t.Errorf("code = %q, want too_large", code)
		}
		if !resp.Close {
			t.Error("the connection stays open with an unsent body announced on it")
		}
	})
	t.Run("within the limit", func(t *testing.T) {
		resp, _, c, br := rawExchange(t, relay.Addr, head(10), 3*time.Second)
		if resp.StatusCode != http.StatusContinue {
			t.Fatalf("first answer = %s, want 100 Continue", resp.Status)
		}
		io.WriteString(c, "0123456789")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "10" {
			t.Errorf("after the body: %s %q, want 200 \"10\"", resp.Status, b)
		}
	})
}

// TestMalformedBodyIsTheClientsFault: a chunked body that does not parse
// is a 400 from the relay (the client's mistake), not a 502 blamed on the
// agent, and it does not count among the relay's 5xx.
func TestMalformedBodyIsTheClientsFault(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	k := newKiosk("CT0700026", "East", "mall-3f")
	startKiosk(t, f, relay.URL, k)
	post := "POST " + api + "CT0700026/upload HTTP/1.1\r\nHost: relay\r\n"

	tests := []struct{ name, request string }{
		{"chunk size beyond 64 bits", post + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nx\r\n0\r\n\r\n"},
		{"chunk size not hex", post + "Transfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n"},
		{"chunk without its CRLF", post + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n"},
		{"obs-folded Transfer-Encoding", post + "Transfer-Encoding:\r\n chunked\r\n\r\nfffffffffffffffffff\r\nx\r\n0\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body, _, _ := rawExchange(t, relay.Addr, tt.request, relaytest.Wait)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("answer = %s %.200s, want 400", resp.Status, body)
			}
			var e apiError
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code == "" {
				t.Errorf("not the API's error JSON: %.200s", body)
			}
		})
	}
	_, _, metrics := do(t, "GET", relay.URL+"/metrics", nil)
	for line := range strings.SplitSeq(metrics, "\n") {
		if strings.HasPrefix(line, "casefleet_relay_http_request_duration_seconds_count") && strings.Contains(line, `code="5`) {
			t.Errorf("a malformed body counted as a 5xx: %s", line)
		}
	}
}

// TestProtocolRefusalsAreJSON: what Go's HTTP server refuses before the
// relay sees a request (a malformed request, headers too large, an
// unknown transfer coding, another HTTP version) is answered in the
// API's JSON error shape too.
func TestProtocolRefusalsAreJSON(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.MaxHeaderBytes = 4 << 10
	relay := relaytest.StartRelay(t, cfg)

	tests := []struct {
		name, request string
		status        int
		code          string
	}{
		{"not HTTP", "HELLO\r\n\r\n", 400, "bad_request"},
		{"two Host headers", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "bad_request"},
		{"no Host header", "GET /healthz HTTP/1.1\r\n\r\n", 400, "bad_request"},
		{"headers too large", "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("x", 8<<10) + "\r\n\r\n", 431, "headers_too_large"},
		{"unknown transfer coding", "POST /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "transfer_encoding_not_supported"},
		{"HTTP/2.0 as text", "GET /healthz HTTP/2.0\r\nHost: a\r\n\r\n", 505, "http_version_not_supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body, _, _ := rawExchange(t, relay.Addr, tt.request, relaytest.Wait)
			if resp.StatusCode != tt.status {
				t.Errorf("status = %s, want %d", resp.Status, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON; body %q", ct, body)
			}
			var e apiError
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != tt.code || e.Error.Message == "" {
				t.Errorf("body = %q, want the API's error with code %q", body, tt.code)
			}
		})
	}
	// The relay goes on serving.
	if status, _, _ := do(t, "GET", relay.URL+"/healthz", nil); status != 200 {
		t.Errorf("healthz = %d", status)
	}
}
