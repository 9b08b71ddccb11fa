package https

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"casefleet/relay/config"
)

func TestRedirectToHTTPS(t *testing.T) {
	tests := []struct {
		name                      string
		domain, publicURL, listen string
		host, target              string
		want                      string
		code                      int
	}{
		{"public_url wins", "relay.example.com", "https://kiosks.example.com", ":443", "relay.example.com", "/editor?machine=CT0700026", "https://kiosks.example.com/editor?machine=CT0700026", 308},
		{"the domain, on 443", "relay.example.com", "", ":443", "203.0.113.7", "/a/b?c=d", "https://relay.example.com/a/b?c=d", 308},
		{"the domain, on another port", "relay.example.com", "", ":8443", "relay.example.com:8080", "/x", "https://relay.example.com:8443/x", 308},
		{"an http public_url is not followed", "relay.example.com", "http://relay.example.com:8080", ":443", "x", "/", "https://relay.example.com/", 308},
		{"own certificate: the request's host", "", "", ":443", "relay.example.com:80", "/", "https://relay.example.com/", 308},
		{"own certificate: an IPv6 host", "", "", ":8443", "[2001:db8::1]:80", "/", "https://[2001:db8::1]:8443/", 308},
		{"own certificate: a host that is no name", "", "", ":443", "evil.example.com/x", "/", "", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Config{TLSDomain: tt.domain, PublicURL: tt.publicURL, Listen: tt.listen}
			f := &Front{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			req := httptest.NewRequest(http.MethodPost, "http://x"+tt.target, nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			f.HTTPHandler().ServeHTTP(rec, req)
			if rec.Code != tt.code || rec.Header().Get("Location") != tt.want {
				t.Errorf("%s %s = %d %q, want %d %q", tt.host, tt.target, rec.Code, rec.Header().Get("Location"), tt.code, tt.want)
			}
		})
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/var/lib/casefleet-relay:/var/lib/other")
	if got, _ := CacheDir(""); got != "/var/lib/casefleet-relay/acme" {
		t.Errorf("under systemd's StateDirectory: %q", got)
	}
	if got, _ := CacheDir("/srv/acme"); got != "/srv/acme" {
		t.Errorf("given: %q", got)
	}
	t.Setenv("STATE_DIRECTORY", "")
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory here")
	}
	if got, _ := CacheDir(""); got != filepath.Join(home, ".local", "share", "casefleet-relay", "acme") {
		t.Errorf("in a home: %q", got)
	}
}
