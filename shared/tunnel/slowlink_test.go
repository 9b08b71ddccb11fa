package tunnel

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// A large upload over a slow link keeps the tunnel up even when the
// keepalive's pongs queue behind the data for longer than two intervals:
// anything arriving from the peer shows it is alive.
func TestSlowLinkUnderBulkTransferStaysUp(t *testing.T) {
	// The sender's ping waits behind up to a window of data (1 MiB, half
	// a second at 2 MiB/s: five intervals), but it hears the receiver's
	// own pings every interval and its window credit every half window
	// (this test fails when only pongs count as signs of life).
	const keepAlive = 100 * time.Millisecond
	f := newFleet(t)
	relay := startRelay(t, f.authenticator(), AcceptOptions{KeepAlive: keepAlive})
	proxy := startThrottledProxy(t, relay.addr, 2<<20) // 2 MiB/s each way
	received := make(chan int, 1)
	states := startAgent(t, AgentConfig{
		RelayURL: "http://" + proxy,
		Token:    f.token(t, "CT0700026"),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			received <- int(n)
			w.WriteHeader(http.StatusNoContent)
		}),
		KeepAlive:  keepAlive,
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
	})
	states.waitFor(t, 0, waitTimeout, "connected", isConnected)
	conn := relay.nextConn(t)
	mark := states.mark()

	const size = 6 << 20 // about 3 s on this link: 30 keepalive intervals
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, relay.URL()+"/upload", bytes.NewReader(make([]byte, size)))
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatalf("upload over a slow link: %v (tunnel: %v)", err, conn.Err())
	}
	resp.Body.Close()
	if got := <-received; got != size || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("agent received %d of %d bytes, status %d (tunnel: %v)", got, size, resp.StatusCode, conn.Err())
	}
	select {
	case <-conn.Done():
		t.Fatalf("the tunnel was dropped during the upload: %v", conn.Err())
	default:
	}
	if n := states.mark(); n != mark {
		t.Fatalf("the agent saw %d state changes during the upload", n-mark)
	}
}

// startThrottledProxy forwards TCP to target at most bytesPerSec each way.
func startThrottledProxy(t *testing.T, target string, bytesPerSec int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	pipe := func(dst, src net.Conn) {
		lim := rate.NewLimiter(rate.Limit(bytesPerSec), 32<<10)
		buf := make([]byte, 16<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if lim.WaitN(context.Background(), n) != nil {
					return
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				dst.Close()
				return
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); up.Close() })
			go pipe(up, c)
			go pipe(c, up)
		}
	}()
	return ln.Addr().String()
}
