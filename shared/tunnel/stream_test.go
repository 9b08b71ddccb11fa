package tunnel

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// A handler's file goes to the relay through the stream's ReadFrom, which
// net/http calls for a body of known length (http.ServeContent's): it
// arrives whole.
func TestFileBodyCrossesWhole(t *testing.T) {
	file := make([]byte, 3<<20+12345)
	rand.Read(file)
	path := filepath.Join(t.TempDir(), "print.tif")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	relay, client := startStreamKiosk(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, path)
	}))
	resp, err := client.Get(relay.URL() + "/print.tif")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the file: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, file) {
		t.Fatalf("GET = %d, %d bytes (equal: %v), want 200 and the %d bytes of the file", resp.StatusCode, len(got), bytes.Equal(got, file), len(file))
	}
}

// ReadFrom copies in large pieces but never waits to fill one: what the
// source has given goes out before the source gives more.
func TestReadFromSendsWhatItHasAtOnce(t *testing.T) {
	const first, rest = 600, 400 // more than net/http sniffs (512) before it hands over
	src, feed := io.Pipe()
	t.Cleanup(func() { feed.Close() })
	relay, client := startStreamKiosk(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(first+rest))
		w.(io.ReaderFrom).ReadFrom(src)
	}))
	go feed.Write(bytes.Repeat([]byte("a"), first))

	resp, err := client.Get(relay.URL() + "/trickle")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, first)
	read := make(chan error, 1)
	go func() { _, err := io.ReadFull(resp.Body, got); read <- err }()
	select {
	case err := <-read:
		if err != nil {
			t.Fatalf("read the first %d bytes: %v", first, err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("the first %d bytes did not arrive before the source gave more", first)
	}
	go func() {
		feed.Write(bytes.Repeat([]byte("b"), rest))
		feed.Close()
	}()
	tail, err := io.ReadAll(resp.Body)
	if err != nil || string(tail) != string(bytes.Repeat([]byte("b"), rest)) {
		t.Fatalf("the rest = %d bytes, %v", len(tail), err)
	}
}

// startStreamKiosk connects an agent serving h to a test relay.
func startStreamKiosk(t *testing.T, h http.Handler) (*testRelay, *http.Client) {
	t.Helper()
	f := newFleet(t)
	relay := startRelay(t, f.authenticator(), AcceptOptions{})
	states := startAgent(t, AgentConfig{RelayURL: relay.URL(), Token: f.token(t, "CT0700026"), Handler: h})
	states.waitFor(t, 0, waitTimeout, "connected", isConnected)
	relay.nextConn(t)
	return relay, &http.Client{Timeout: time.Minute}
}
