package tunnel

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzConnectURL: whatever is in relay.url, the agent either refuses it or
// dials an https URL, or a plain http one on this machine only, at the
// agent endpoint and with nothing else in it.
func FuzzConnectURL(f *testing.F) {
	for _, s := range []string{
		"https://relay.example.com", "http://127.0.0.1:8080/", "http://[::1]:80", "http://localhost",
		"http://relay.example.com", "https://u:p@h/", "https://h/?q#f", "https://h/%2e%2e/", "http://[::ffff:127.0.0.1]/",
		"http://0x7f.1/", "http://127.1/", "HTTP://127.0.0.1/", "https:opaque", "//h/p",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, relay string) {
		got, err := connectURL(relay)
		if err != nil {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("connectURL(%q) = %q, which does not parse: %v", relay, got, err)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
			t.Fatalf("connectURL(%q) = %q: plain text to a remote host", relay, got)
		}
		if u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || !strings.HasSuffix(u.Path, ConnectPath) {
			t.Fatalf("connectURL(%q) = %q", relay, got)
		}
	})
}

// FuzzParsePublicURL: an announced public URL is either refused or a clean
// absolute http(s) base URL, stable under a second parse.
func FuzzParsePublicURL(f *testing.F) {
	for _, s := range []string{"https://relay.example.com/", "http://127.0.0.1:8080", "javascript:x", "https://h/?q", "https://h/a%20b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parsePublicURL(s)
		if err != nil || got == "" {
			return
		}
		again, err := parsePublicURL(got)
		if err != nil || again != got {
			t.Fatalf("parsePublicURL(%q) = %q, which parses again as %q, %v", s, got, again, err)
		}
		if !strings.HasPrefix(got, "https://") && !strings.HasPrefix(got, "http://") {
			t.Fatalf("parsePublicURL(%q) = %q", s, got)
		}
	})
}

// FuzzBearerToken: an accepted token is non-empty, has no blanks, and
// survives being put back in a header.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer cf1.a.b", "bearer  x", "Basic x", "Bearer", "Bearer a b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, ok := bearerToken(header)
		if !ok {
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t") {
			t.Fatalf("bearerToken(%q) = %q", header, tok)
		}
		if again, ok := bearerToken("Bearer " + tok); !ok || again != tok {
			t.Fatalf("token %q does not round-trip: %q, %v", tok, again, ok)
		}
	})
}

// FuzzParseRefusal: whatever a relay or a proxy answers, the technician
// gets one short, printable line.
func FuzzParseRefusal(f *testing.F) {
	f.Add(401, "application/json", []byte(`{"error":{"code":"token_expired","message":"token expired"}}`))
	f.Add(502, "text/html", []byte("<html>bad gateway</html>"))
	f.Add(400, "text/plain; charset=utf-8", []byte("bad\r\nrequest"))
	f.Add(403, "application/json", []byte(`{"error":{"code":"\u0000","message":"\u001b[2J\xff"}}`))
	f.Add(999, "text/plain; x=\"", []byte(nil))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		e := parseRefusal(status, contentType, body)
		msg := e.Error()
		if e.Message == "" || !utf8.ValidString(msg) || len(e.Message) > maxReasonLen+100 || len(e.Code) > 64+3 {
			t.Fatalf("parseRefusal(%d, %q, %q) = %+v", status, contentType, body, e)
		}
		if strings.ContainsFunc(msg+e.Code, unicode.IsControl) {
			t.Fatalf("refusal %q / %q carries control characters", msg, e.Code)
		}
	})
}
