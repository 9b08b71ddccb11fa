package tunnel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

const (
	bigBody   = 15 << 20 // the size of an upload a customer may make
	firstPart = 1 << 20
)

// kioskHandler stands in for the agent's web app.
type kioskHandler struct {
	uploadStarted   chan struct{} // closed when the upload handler has its first bytes
	downloadStarted chan struct{} // closed by the test when it has the first bytes
}

func (h *kioskHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/upload":
		// Report the first bytes at once, then hash the rest.
		buf := make([]byte, 64<<10)
		n, err := io.ReadAtLeast(r.Body, buf, 1)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		close(h.uploadStarted)
		sum := sha256.New()
		sum.Write(buf[:n])
		rest, err := io.Copy(sum, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %x", int64(n)+rest, sum.Sum(nil))
	case "/download":
		w.Write(pattern(0, firstPart))
		w.(http.Flusher).Flush()
		select {
		case <-h.downloadStarted:
		case <-r.Context().Done():
			return
		}
		w.Write(pattern(firstPart, bigBody-firstPart))
	case "/echo":
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ws.SetReadLimit(1 << 20)
		for {
			typ, msg, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			if err := ws.Write(r.Context(), typ, append([]byte("echo: "), msg...)); err != nil {
				return
			}
		}
	default:
		if body, _ := io.ReadAll(r.Body); len(body) > 0 {
			w.Write(body)
			return
		}
		fmt.Fprintf(w, "kiosk %s %s from %s", r.Method, r.URL.RequestURI(), r.Header.Get("X-Forwarded-For"))
	}
}

// pattern returns n bytes of a sequence that tells where a byte belongs.
func pattern(offset, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((offset + i) % 251)
	}
	return b
}

func TestEndToEnd(t *testing.T) {
	f := newFleet(t)
	relay := startRelay(t, f.authenticator(), AcceptOptions{PublicURL: "https://relay.example/"})
	kiosk := &kioskHandler{uploadStarted: make(chan struct{}), downloadStarted: make(chan struct{})}
	states := startAgent(t, AgentConfig{
		RelayURL: relay.URL(),
		Token:    f.token(t, "CT0700026"),
		Version:  "1.2.3",
		Handler:  kiosk,
	})
	up := states.waitFor(t, 0, waitTimeout, "connected", isConnected)
	conn := relay.nextConn(t)
	client := &http.Client{Timeout: time.Minute}

	t.Run("handshake", func(t *testing.T) {
		if up.PublicURL != "https://relay.example" {
			t.Errorf("PublicURL = %q, want the relay's announcement without trailing slash", up.PublicURL)
		}
		if up.Err != nil || up.Rejected || up.Since.IsZero() {
			t.Errorf("connected state = %+v", up)
		}
		if conn.Machine() != "CT0700026" || conn.Version() != "1.2.3" || conn.Claims().Location != "mall-3f" {
			t.Errorf("relay sees machine %q version %q claims %+v", conn.Machine(), conn.Version(), conn.Claims())
		}
	})

	t.Run("GET", func(t *testing.T) {
		status, body := get(t, client, relay.URL()+"/api/chitu/machine/CT0700026/status?x=1")
		if status != http.StatusOK || !strings.HasPrefix(body, "kiosk GET /api/chitu/machine/CT0700026/status?x=1 from 127.0.0.1") {
			t.Errorf("GET through the tunnel = %d %q", status, body)
		}
	})

	t.Run("upload streams", func(t *testing.T) {
		// The client sends the first megabyte and holds the rest back until
		// the handler has seen bytes: a hop that buffered whole bodies would
		// never let the handler start.
		body, w := io.Pipe()
		want := sha256.New()
		go func() {
			first := pattern(0, firstPart)
			want.Write(first)
			w.Write(first)
			select {
			case <-kiosk.uploadStarted:
			case <-time.After(waitTimeout):
				w.CloseWithError(errors.New("the handler saw no byte before the whole body was sent"))
				return
			}
			rest := pattern(firstPart, bigBody-firstPart)
			want.Write(rest)
			w.Write(rest)
			w.Close()
		}()
		req, _ := http.NewRequest(http.MethodPost, relay.URL()+"/upload", body)
		req.ContentLength = bigBody
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if wantBody := fmt.Sprintf("%d %x", bigBody, want.Sum(nil)); string(got) != wantBody {
			t.Errorf("handler got %q, want %q", got, wantBody)
		}
	})

	t.Run("download streams", func(t *testing.T) {
		resp, err := client.Get(relay.URL() + "/download")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		// The handler holds back all but the first megabyte until this
		// side has read it.
		first := make([]byte, firstPart)
		if _, err := io.ReadFull(resp.Body, first); err != nil {
			t.Fatalf("read the first megabyte: %v", err)
		}
		close(kiosk.downloadStarted)
		rest, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(append(first, rest...), pattern(0, bigBody)) {
			t.Errorf("downloaded %d bytes, not the %d sent", firstPart+len(rest), bigBody)
		}
	})

	t.Run("customer WebSocket", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, relay.URL()+"/echo", nil)
		if err != nil {
			t.Fatalf("dial through the relay: %v", err)
		}
		defer ws.CloseNow()
		ws.SetReadLimit(1 << 20)
		for _, msg := range []string{"hello", strings.Repeat("x", 100<<10), "bye"} {
			if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			_, got, err := ws.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "echo: "+msg {
				t.Fatalf("echo of a %d-byte message is %.40q", len(msg), got)
			}
		}
		ws.Close(websocket.StatusNormalClosure, "")
	})

	t.Run("concurrent requests", func(t *testing.T) {
		const workers, each = 32, 8
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					payload := fmt.Sprintf("worker %d request %d %s", w, i, strings.Repeat("p", w*1000))
					resp, err := client.Post(relay.URL()+"/any", "text/plain", strings.NewReader(payload))
					if err != nil {
						errs <- err
						return
					}
					got, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || string(got) != payload {
						errs <- fmt.Errorf("%s: got %d bytes (%v)", payload[:20], len(got), err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// TestSecondTunnelForSameMachine: while an old tunnel of a machine is still
// open (its agent restarted, say), a new one is accepted too; the relay
// decides which to keep.
func TestSecondTunnelForSameMachine(t *testing.T) {
	f := newFleet(t)
	relay := startRelay(t, f.authenticator(), AcceptOptions{})
	token := f.token(t, "CT0700026")
	startAgent(t, AgentConfig{RelayURL: relay.URL(), Token: token, Handler: hello("first")})
	first := relay.nextConn(t)
	startAgent(t, AgentConfig{RelayURL: relay.URL(), Token: token, Handler: hello("second")})
	second := relay.nextConn(t)

	for name, c := range map[string]*Conn{"first": first, "second": second} {
		client := &http.Client{Transport: c.Transport()}
		if status, body := get(t, client, "http://agent/who"); status != http.StatusOK || body != name+" GET /who" {
			t.Errorf("the %s tunnel answers %d %q", name, status, body)
		}
	}
	first.Close()
	select {
	case <-first.Done():
	default:
		t.Error("Done is open after Close")
	}
	if _, err := first.DialContext(context.Background(), "tcp", "agent"); !errors.Is(err, ErrClosed) {
		t.Errorf("DialContext on a closed tunnel: %v, want ErrClosed", err)
	}
	client := &http.Client{Transport: second.Transport()}
	if status, body := get(t, client, "http://agent/who"); status != http.StatusOK || body != "second GET /who" {
		t.Errorf("after closing the first, the second tunnel answers %d %q", status, body)
	}
}

func TestDialContextHonoursContext(t *testing.T) {
	f := newFleet(t)
	relay := startRelay(t, f.authenticator(), AcceptOptions{})
	startAgent(t, AgentConfig{RelayURL: relay.URL(), Token: f.token(t, "CT0700026"), Handler: hello("kiosk")})
	c := relay.nextConn(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.DialContext(ctx, "tcp", "agent"); !errors.Is(err, context.Canceled) {
		t.Errorf("DialContext with a cancelled context: %v", err)
	}
}
