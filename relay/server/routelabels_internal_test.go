package server

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRouteLabelsArePatterns(t *testing.T) {
	l := newRouteLabels()
	const m = "/api/chitu/machine/{code}"
	tests := []struct{ method, target, want string }{
		{"GET", "/healthz", "GET /healthz"},
		{"HEAD", "/readyz", "GET /readyz"},
		{"GET", "/metrics", "GET /metrics"},
		{"GET", "/agent/connect", "GET /agent/connect"},
		{"GET", "/api/machines?location=mall-3f", "GET /api/machines"},
		{"GET", "/editor?machine=CT0700026&location=mall-3f", "GET /editor"},
		{"GET", "/app/assets/app-1234.js", "GET /app/"},
		{"GET", "/api/chitu/machine/CT0700026/status", "GET " + m + "/status"},
		{"POST", "/api/chitu/machine/CT0700026/print", "POST " + m + "/print"},
		{"GET", "/api/chitu/machine/CT0700026/queue/ORDER1", "GET " + m + "/queue/{order}"},
		{"DELETE", "/api/chitu/machine/CT0700026/queue/ORDER1", "DELETE " + m + "/queue/{order}"},
		{"GET", "/api/chitu/machine/CT0700026/events?sessionId=S", "GET " + m + "/events"},
		{"HEAD", "/api/chitu/machine/CT0700026/files/abc.tif", "GET " + m + "/files/{file}"},
		{"POST", "/api/chitu/machine/CT0700026/push", "POST " + m + "/push"},
		{"GET", "/api/chitu/machine/CT0700026/push/key", "GET " + m + "/push/key"},
		// Anything else under a machine, whatever the method.
		{"PUT", "/api/chitu/machine/CT0700026/status", m + "/"},
		{"OPTIONS", "/api/chitu/machine/CT0700026/print", m + "/"},
		{"GET", "/api/chitu/machine/not-a-code/anything/else", m + "/"},
		// Paths a ServeMux would redirect: never their path as a label.
		{"GET", "/api/chitu/machine/CT0700026", routeUnmatched},
		{"GET", "/api/chitu/machine/CT0700026/../../../etc/passwd", routeUnmatched},
		{"GET", "//healthz", routeUnmatched},
		{"GET", "/app", routeUnmatched},
		{"GET", "/", routeUnmatched},
		{"GET", "/wp-login.php", routeUnmatched},
		{"POST", "/healthz", routeUnmatched},
		{"GET", "/" + strings.Repeat("a/", 500), routeUnmatched},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, "http://relay.example.com/", nil)
		r.URL.Path = strings.SplitN(tt.target, "?", 2)[0]
		if got := l.label(r); got != tt.want {
			t.Errorf("%s %s: label %q, want %q", tt.method, tt.target, got, tt.want)
		}
	}
}

func BenchmarkRouteLabel(b *testing.B) {
	l := newRouteLabels()
	r := httptest.NewRequest("GET", "/api/chitu/machine/CT0700026/queue/ORDER1", nil)
	for b.Loop() {
		l.label(r)
	}
}
