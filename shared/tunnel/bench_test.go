package tunnel

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"
)

// BenchmarkTunnelSmallGET measures requests per second for a small GET
// through relay, tunnel and agent, and straight to the handler for
// comparison.
func BenchmarkTunnelSmallGET(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"online","queueLength":3}`))
	})
	for _, target := range benchTargets(b, handler) {
		url := target.url
		b.Run(target.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			b.ReportAllocs()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(url + "/api/chitu/machine/CT0700026/status")
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

// BenchmarkTunnelUpload5MB measures 5 MB uploads (a customer's photo at
// the size limit) through the tunnel and straight to the handler.
func BenchmarkTunnelUpload5MB(b *testing.B) {
	const size = 5 << 20
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if n != size {
			http.Error(w, "short body", http.StatusBadRequest)
		}
	})
	body := bytes.Repeat([]byte("photo"), size/5)
	for _, target := range benchTargets(b, handler) {
		url := target.url
		b.Run(target.name, func(b *testing.B) {
			client := &http.Client{}
			defer client.CloseIdleConnections()
			b.SetBytes(size)
			start := time.Now()
			for b.Loop() {
				resp, err := client.Post(url+"/print", "image/jpeg", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

type benchTarget struct{ name, url string }

// benchTargets serves handler three ways: through relay and tunnel, through
// a plain reverse proxy (the relay's hop without the tunnel), and directly.
func benchTargets(b *testing.B, handler http.Handler) []benchTarget {
	f := newFleet(b)
	relay := startRelay(b, f.authenticator(), AcceptOptions{})
	states := startAgent(b, AgentConfig{RelayURL: relay.URL(), Token: f.token(b, "CT0700026"), Handler: handler})
	states.waitFor(b, 0, waitTimeout, "connected", isConnected)
	relay.nextConn(b)

	direct := httptest.NewServer(handler)
	b.Cleanup(direct.Close)
	directURL, _ := url.Parse(direct.URL)
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(directURL))
	b.Cleanup(proxy.Close)
	return []benchTarget{{"tunnel", relay.URL()}, {"proxy", proxy.URL}, {"direct", direct.URL}}
}

// BenchmarkTunnelDownload4MB measures a 4.5 MB GET (a print file, which
// the printer fetches through the relay) through the tunnel and straight
// to the handler: the agent's direction, where the WebSocket client masks.
func BenchmarkTunnelDownload4MB(b *testing.B) {
	const size = 4_500_000
	file := bytes.Repeat([]byte("tiff"), size/4)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/tiff")
		w.Write(file)
	})
	for _, target := range benchTargets(b, handler) {
		url := target.url
		b.Run(target.name, func(b *testing.B) {
			client := &http.Client{}
			defer client.CloseIdleConnections()
			b.SetBytes(size)
			for b.Loop() {
				resp, err := client.Get(url + "/files/print.tiff")
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if n != size {
					b.Fatalf("got %d bytes", n)
				}
			}
		})
	}
}
