package lan_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"casefleet/agent/lan"
)

// testRate is DefaultBodyRate scaled down so a test takes seconds.
var (
	testRate = lan.BodyRate{Grace: 500 * time.Millisecond, MinRate: 20_000, Idle: time.Second}
	discard  = slog.New(slog.DiscardHandler)
)

// counter reads the whole body and answers how many bytes came, or 408.
// After the body it works for `work` first, checking the request was not
// cancelled meanwhile.
func counter(work time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if errors.Is(err, lan.ErrBodyTooSlow) {
			http.Error(w, err.Error(), http.StatusRequestTimeout)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(work):
		case <-r.Context().Done():
			http.Error(w, "cancelled while working", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, n)
	})
}

// slowClient sends a POST declaring size bytes, then writes chunks of
// chunk bytes every gap until size is sent (or stallAfter bytes are), and
// reads the answer: its status (0: the connection closed without one),
// body, and how long it all took.
type slowClient struct {
	size, chunk int
	gap         time.Duration
	stallAfter  int // stop sending after this many bytes (0: never)
}

func (c slowClient) run(t *testing.T, conn net.Conn) (status int, body string, took time.Duration) {
	t.Helper()
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: kiosk\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", c.size)
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		payload := []byte(strings.Repeat("x", c.chunk))
		for sent := 0; sent < c.size; sent += c.chunk {
			if c.stallAfter > 0 && sent >= c.stallAfter {
				return
			}
			if _, err := conn.Write(payload[:min(c.chunk, c.size-sent)]); err != nil {
				return // cut off
			}
			time.Sleep(c.gap) // the client's pace is what is tested
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err.Error(), time.Since(start)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b), time.Since(start)
}

func dial(t *testing.T, srv *httptest.Server) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// A client trickling a byte now and then is cut off once the grace is
// over, instead of holding the connection for as long as it likes.
func TestASlowlorisBodyIsCutOff(t *testing.T) {
	srv := httptest.NewServer(testRate.Handler(counter(0), discard))
	defer srv.Close()
	status, body, took := slowClient{size: 100_000, chunk: 1, gap: 100 * time.Millisecond}.run(t, dial(t, srv))
	if status != http.StatusRequestTimeout || !strings.Contains(body, "too slowly") {
		t.Errorf("answer %d %q, want 408 too slowly", status, body)
	}
	if took < testRate.Grace || took > testRate.Grace+time.Second {
		t.Errorf("cut after %v, want just after the %v grace", took, testRate.Grace)
	}
}

// A slow but steady upload is served however long it takes, and the
// handler may work on after it as long as it needs.
func TestASlowSteadyUploadIsServed(t *testing.T) {
	srv := httptest.NewServer(testRate.Handler(counter(2*testRate.Idle), discard))
	defer srv.Close()
	// Twice the minimum rate, for three times the grace plus the idle time.
	c := slowClient{size: 80_000, chunk: 4_000, gap: 100 * time.Millisecond}
	status, body, took := c.run(t, dial(t, srv))
	if status != http.StatusOK || body != strconv.Itoa(c.size) {
		t.Fatalf("answer %d %q after %v, want 200 %d", status, body, took, c.size)
	}
}

// A body that stops arriving is cut after Idle, even when it was well
// ahead of the rate.
func TestAStalledUploadIsCutAfterTheIdleTime(t *testing.T) {
	srv := httptest.NewServer(testRate.Handler(counter(0), discard))
	defer srv.Close()
	status, _, took := slowClient{size: 200_000, chunk: 50_000, gap: 10 * time.Millisecond, stallAfter: 100_000}.run(t, dial(t, srv))
	if status != http.StatusRequestTimeout {
		t.Errorf("answer %d, want 408", status)
	}
	// 100 kB are worth 5.5 s at the rate; the stall is cut after 1 s.
	if took > testRate.Idle+time.Second {
		t.Errorf("cut after %v, want about the %v idle time", took, testRate.Idle)
	}
}

// Requests without a body (a long poll, a WebSocket) are not touched.
func TestRequestsWithoutABodyAreLeftAlone(t *testing.T) {
	srv := httptest.NewServer(testRate.Handler(counter(2*(testRate.Grace+testRate.Idle)), discard))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "0" {
		t.Fatalf("answer %s %q", resp.Status, b)
	}
}

// The bound holds on the relay tunnel too, whose connections are yamux
// streams.
func TestASlowlorisIsCutOffThroughTheTunnel(t *testing.T) {
	agentSide, relaySide := net.Pipe()
	server, err := yamux.Server(agentSide, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := yamux.Client(relaySide, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	srv := &http.Server{Handler: testRate.Handler(counter(0), discard), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(server)
	defer srv.Close()

	stream, err := client.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	status, _, took := slowClient{size: 100_000, chunk: 1, gap: 100 * time.Millisecond}.run(t, stream)
	if status != http.StatusRequestTimeout || took > testRate.Grace+time.Second {
		t.Errorf("through the tunnel: answer %d after %v, want 408 just after %v", status, took, testRate.Grace)
	}
}
