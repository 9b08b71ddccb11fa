//go:build unix

package streamhttp_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"casefleet/relay/streamhttp"
	"casefleet/shared/enroll"
	"casefleet/shared/tunnel"
)

// Small GETs through a real tunnel, as the relay forwards a phone's: the
// process's CPU per request (relay and agent ends both, so only the
// difference between transports says anything).
func BenchmarkSmallGETThroughATunnel(b *testing.B) {
	conn := benchTunnel(b)
	dial := func(ctx context.Context) (net.Conn, error) { return conn.DialContext(ctx, "tcp", "agent") }
	for _, c := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"http.Transport", &http.Transport{DialContext: conn.DialContext, MaxIdleConnsPerHost: 64, DisableCompression: true, ResponseHeaderTimeout: time.Minute}},
		{"streamhttp", &streamhttp.Transport{Dial: dial, MaxIdle: 64, IdleTimeout: time.Minute, ResponseHeaderTimeout: time.Minute}},
		{"streamhttp-notimeout", &streamhttp.Transport{Dial: dial, MaxIdle: 64, IdleTimeout: time.Minute}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetParallelism(8)
			start := cpu()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("GET", "http://agent/api/machine/CT0700026/status", nil)
					resp, err := c.rt.RoundTrip(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
			b.ReportMetric(float64((cpu()-start).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchTunnel(b *testing.B) *tunnel.Conn {
	pub, priv, _ := enroll.GenerateKey()
	v := &enroll.Verifier{PublicKey: pub}
	accepted := make(chan *tunnel.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := tunnel.Accept(w, r, tunnel.AcceptOptions{Authenticate: func(_ *http.Request, code, tok string) (enroll.Claims, error) {
			return v.VerifyFor(code, tok)
		}})
		if err == nil {
			accepted <- c
		}
	}))
	b.Cleanup(srv.Close)
	status := strings.Repeat("s", 262)
	token, _ := enroll.Issue(priv, enroll.Claims{Machine: "CT0700026"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tunnel.RunAgent(ctx, tunnel.AgentConfig{RelayURL: srv.URL, MachineCode: "CT0700026", Token: token,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, status)
			}), MaxBackoff: time.Hour, MinBackoff: time.Hour})
	}()
	b.Cleanup(func() { cancel(); <-done })
	select {
	case c := <-accepted:
		return c
	case <-time.After(20 * time.Second):
		b.Fatal("no tunnel")
		return nil
	}
}
