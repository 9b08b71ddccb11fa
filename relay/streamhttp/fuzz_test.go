package streamhttp

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// Whatever bytes an agent answers with, the relay gets an answer or an
// error, in bounded time and without a panic, and keeps no stream that
// did not end cleanly.
func FuzzRoundTripHostileAgent(f *testing.F) {
	for _, seed := range []string{
		okAnswer,
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nframes",
		"HTTP/1.0 200 OK\r\n\r\nuntil the end",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nokextra",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n",
		"HTTP/1.1 999 Odd\r\nContent-Length: -1\r\n\r\n",
		"\x00\xff garbage",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, answer string) {
		tr, _ := rawAgent(t, func(int) string { return answer })
		tr.ResponseHeaderTimeout = wait
		req := newRequest(t, "GET", "/", nil)
		done := make(chan struct{})
		go func() {
			defer close(done)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			clean := err == nil && resp.StatusCode != http.StatusSwitchingProtocols
			if !clean && tr.idleCount() != 0 {
				t.Errorf("a stream kept after %v (status %d)", err, resp.StatusCode)
			}
		}()
		select {
		case <-done:
		case <-time.After(2 * wait):
			t.Fatalf("no end to the exchange with %q", answer)
		}
	})
}
