package server

import (
	"bufio"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func request(t testing.TB, raw string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return r
}

func TestClassify(t *testing.T) {
	tests := []struct {
		request string
		kind    routeKind
		code    string
		fail    string // failure code, if refused
	}{
		{"GET /healthz", routeHealth, "", ""},
		{"HEAD /readyz", routeReady, "", ""},
		{"GET /agent/connect", routeConnect, "", ""},
		{"GET /api/machines?location=mall-3f", routeMachines, "", ""},
		{"POST /api/machines", 0, "", "not_found"},
		{"GET /editor?machine=CT0700026&location=mall-3f", routeEditor, "CT0700026", ""},
		{"GET /editor?location=mall-3f", 0, "", "missing_machine"},
		{"GET /editor?machine=CT07", 0, "", "invalid_machine_code"},
		{"GET /app/main.js?machine=CT0700046", routeApp, "CT0700046", ""},
		{"GET /app/main.js?machine=nope", routeApp, "", ""},
		{"GET /api/chitu/machine/CT0700026/status", routeMachineAPI, "CT0700026", ""},
		{"POST /api/chitu/machine/CT0700026/print", routeMachineAPI, "CT0700026", ""},
		{"DELETE /api/chitu/machine/CT0700026/queue/ABC", routeMachineAPI, "CT0700026", ""},
		{"GET /api/chitu/machine/CT0700026/files/x.tif", routeMachineAPI, "CT0700026", ""},
		{"GET /api/chitu/machine/CT0700026/", routeMachineAPI, "CT0700026", "not_found"},
		{"GET /api/chitu/machine/CT0700026", 0, "", "not_found"},
		{"GET /api/chitu/machine/XX/status", 0, "", "invalid_machine_code"},
		{"TRACE /api/chitu/machine/CT0700026/status", 0, "", "method_not_allowed"},
		{"GET /api/chitu/machine/CT0700026/../x", 0, "", "bad_path"},
		{"GET /api/chitu/machine/CT0700026/./status", 0, "", "bad_path"},
		{"GET /api/chitu/machine/CT0700026%2Fstatus/x", 0, "", "bad_path"},
		{"GET /app/..%5c..%5cetc", 0, "", "bad_path"},
		{"GET http://evil.example/", 0, "", "bad_request"},
		{"GET /", 0, "", "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.request, func(t *testing.T) {
			m, f := classify(request(t, tt.request+" HTTP/1.1\r\nHost: relay\r\n\r\n"))
			switch {
			case f != nil && tt.fail == "":
				t.Errorf("refused with %s", f.code)
			case f != nil && f.code != tt.fail:
				t.Errorf("refused with %s, want %s", f.code, tt.fail)
			case f == nil && tt.fail != "" && tt.kind == 0:
				t.Errorf("accepted as %v, want refusal %s", m, tt.fail)
			case f == nil && tt.fail == "" && (m.kind != tt.kind || m.code != tt.code):
				t.Errorf("= %+v, want kind %v code %q", m, tt.kind, tt.code)
			}
		})
	}
}

func TestOriginOf(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name, remote string
		xff          []string
		client       string
		chain        string
	}{
		{"direct", "203.0.113.5:4000", nil, "203.0.113.5", "203.0.113.5"},
		{"direct, forged chain ignored", "203.0.113.5:4000", []string{"1.1.1.1"}, "203.0.113.5", "203.0.113.5"},
		{"behind a load balancer", "10.0.0.2:80", []string{"198.51.100.7"}, "198.51.100.7", "198.51.100.7, 10.0.0.2"},
		{"client forged the left part", "10.0.0.2:80", []string{"1.1.1.1, 198.51.100.7"}, "198.51.100.7", "1.1.1.1, 198.51.100.7, 10.0.0.2"},
		{"through a peer relay", "10.0.0.3:80", []string{"198.51.100.7, 10.0.0.2"}, "198.51.100.7", "198.51.100.7, 10.0.0.2, 10.0.0.3"},
		{"garbage in the chain", "10.0.0.2:80", []string{"nonsense, 198.51.100.7"}, "198.51.100.7", "198.51.100.7, 10.0.0.2"},
		{"only trusted hops", "10.0.0.2:80", []string{"10.9.9.9"}, "10.9.9.9", "10.9.9.9, 10.0.0.2"},
		{"IPv6", "[2001:db8::1]:443", nil, "2001:db8::1", "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(t, "GET /x HTTP/1.1\r\nHost: relay\r\n\r\n")
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			o := originOf(r, trusted)
			if o.client.String() != tt.client || o.chain != tt.chain {
				t.Errorf("client %s chain %q, want %s %q", o.client, o.chain, tt.client, tt.chain)
			}
		})
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{"/api/chitu/machine/CT0700026/status", "/editor?machine=CT0700026", "/app/x.js", "/a/../b", "/%2e%2e/"} {
		f.Add("GET", s, "")
	}
	f.Fuzz(func(t *testing.T, method, target, cookie string) {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(method + " " + target + " HTTP/1.1\r\nHost: x\r\nCookie: " + cookie + "\r\n\r\n")))
		if err != nil {
			return
		}
		m, fail := classify(r)
		if fail != nil {
			return
		}
		p := r.URL.Path
		// Whatever gets through is one of the relay's paths, canonical.
		if !cleanPath(p) || r.URL.RawPath != "" || !strings.HasPrefix(r.RequestURI, "/") {
			t.Fatalf("accepted unclean %q", r.RequestURI)
		}
		switch m.kind {
		case routeMachineAPI:
			if !strings.HasPrefix(p, machineAPIPrefix+m.code+"/") {
				t.Fatalf("%q routed to %s", p, m.code)
			}
		case routeEditor, routeApp, routeMachines, routeHealth, routeReady, routeConnect:
		default:
			t.Fatalf("%q classified as %v", p, m.kind)
		}
	})
}

func FuzzOriginOf(f *testing.F) {
	f.Add("10.0.0.1:80", "1.2.3.4, 10.0.0.9", "https")
	f.Add("[::1]:1", "::ffff:1.2.3.4", "")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, xff, proto string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}, "X-Forwarded-Proto": {proto}}}
		o := originOf(r, trusted)
		if len(o.chain) > maxForwardedLen+64 || strings.ContainsAny(o.chain, "\r\n") {
			t.Fatalf("chain %q", o.chain)
		}
		if o.proto != "http" && o.proto != "https" {
			t.Fatalf("proto %q", o.proto)
		}
		if !o.client.IsValid() {
			t.Fatalf("no client address from %q %q", remote, xff)
		}
	})
}
