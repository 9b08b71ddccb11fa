package tunnel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFrameCursorFindsTheEndsOfFrames(t *testing.T) {
	data := yamuxHeader(yamuxTypeData, 0, 1, 5)
	window := yamuxHeader(1, 0, 1, 1<<20) // a window update: its length is no body
	ping := yamuxHeader(2, 1, 0, 7)
	stream := slices(data, []byte("hello"), window, ping, data, []byte("world"))
	ends := map[int]bool{17: true, 29: true, 41: true, 58: true}

	// However the bytes are split, a frame ends where it ends.
	for _, step := range []int{1, 5, 12, 17, len(stream)} {
		var c frameCursor
		for i := 0; i < len(stream); i += step {
			j := min(i+step, len(stream))
			if got, want := c.advance(stream[i:j]), ends[j]; got != want {
				t.Errorf("split every %d bytes: at %d advance = %v, want %v", step, j, got, want)
			}
		}
	}
}

func slices(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// messageSizes records the size of each message written; it holds the
// first write until release is closed, and closes done once want bytes
// are written.
type messageSizes struct {
	release, done chan struct{}
	want          int

	once  sync.Once
	mu    sync.Mutex
	total int
	sizes []int
}

func (m *messageSizes) Write(p []byte) (int, error) {
	m.once.Do(func() { <-m.release })
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sizes = append(m.sizes, len(p))
	if m.total += len(p); m.total == m.want {
		close(m.done)
	}
	return len(p), nil
}

// A batch that grew while a write was under way (a slow link) goes out in
// messages that every peer reads: an end of an earlier version has a read
// limit of legacyMessageLen, and a larger message would end its tunnel.
func TestBatchesNeverExceedTheOldestReadLimit(t *testing.T) {
	body := make([]byte, legacyWindow) // the largest frame an old end lets us send
	const frames = 3
	out := &messageSizes{release: make(chan struct{}), done: make(chan struct{}), want: frames * (yamuxHeaderLen + len(body))}
	b := newBatchWriter(out, func() {}, nil)
	defer b.Close()
	for i := range frames {
		// The first frame's flush blocks in its write; the others
		// gather into one batch behind it.
		b.Write(yamuxHeader(yamuxTypeData, 0, uint32(i+1), uint32(len(body))))
		b.Write(body)
	}
	close(out.release)
	select {
	case <-out.done:
	case <-time.After(waitTimeout):
		t.Fatalf("not all frames were written: %v", out.sizes)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	for _, n := range out.sizes {
		if n > legacyMessageLen {
			t.Errorf("messages %v: one of %d bytes; an end of an earlier version reads at most %d", out.sizes, n, legacyMessageLen)
		}
	}
}

// transfers is what every pairing of ends must carry intact: a small GET,
// a 5 MB upload (a customer's photo) and a 4.5 MB download (a print file).
func checkTransfers(t *testing.T, url string) {
	t.Helper()
	client := &http.Client{Timeout: time.Minute}
	if status, body := get(t, client, url+"/status"); status != http.StatusOK || !strings.HasPrefix(body, "kiosk GET /status") {
		t.Errorf("GET = %d %q", status, body)
	}

	photo := pattern(7, 5<<20)
	resp, err := client.Post(url+"/upload", "image/jpeg", bytes.NewReader(photo))
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("%d %x", len(photo), sha256.Sum256(photo)); string(got) != want {
		t.Errorf("upload arrived as %q, want %q", got, want)
	}

	resp, err = client.Get(url + "/file")
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	file, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(file, pattern(0, printFileLen)) {
		t.Errorf("download: %d bytes (err %v), want the %d bytes sent", len(file), err, printFileLen)
	}
}

const printFileLen = 4_500_000

// bulkHandler serves what checkTransfers asks for.
func bulkHandler() http.Handler {
	file := pattern(0, printFileLen)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/upload":
			sum := sha256.New()
			n, err := io.Copy(sum, r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "%d %x", n, sum.Sum(nil))
		case "/file":
			w.Write(file)
		default:
			fmt.Fprintf(w, "kiosk %s %s", r.Method, r.URL.RequestURI())
		}
	})
}

// Ends of three versions meet on the wire: before batching (a WebSocket
// message per yamux Write, 256 KiB windows), batching with 256 KiB
// windows, and this one (1 MiB windows and read limit). Every message is
// read as part of one stream whatever its size, a window is what the
// receiving end grants, and no end sends a message larger than the
// smallest read limit: so every pairing talks, large transfers both ways
// included.
func TestEndsOfEveryVersionTalk(t *testing.T) {
	versions := []struct {
		name  string
		older olderEnd
	}{
		{"before batching", messagePerWriteEnd},
		{"batching, 256 KiB window", batchingEnd},
		{"this version", currentEnd},
	}
	for _, agent := range versions {
		for _, relayEnd := range versions {
			t.Run("agent "+agent.name+", relay "+relayEnd.name, func(t *testing.T) {
				f := newFleet(t)
				relay := startRelay(t, f.authenticator(), AcceptOptions{older: relayEnd.older})
				states := startAgent(t, AgentConfig{
					RelayURL: relay.URL(), Token: f.token(t, "CT0700026"), Handler: bulkHandler(),
					older: agent.older,
				})
				states.waitFor(t, 0, waitTimeout, "connected", isConnected)
				conn := relay.nextConn(t)
				checkTransfers(t, relay.URL())
				if err := conn.Alive(context.Background()); err != nil {
					t.Errorf("the tunnel is not alive after the transfers: %v", err)
				}
			})
		}
	}
}

// A phone that goes away in the middle of a large upload or download
// ends its own stream only: the tunnel's other streams carry on, and the
// agent holds on to nothing of the transfer (its memory does not grow
// over repeated cuts).
func TestLargeTransferCutInTheMiddle(t *testing.T) {
	f := newFleet(t)
	relay := startRelay(t, f.authenticator(), AcceptOptions{})
	reading := make(chan struct{}, 1)
	sending := make(chan struct{}, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/upload":
			buf := make([]byte, 64<<10)
			n, _ := io.ReadAtLeast(r.Body, buf, 1<<20>>4)
			if n > 0 {
				reading <- struct{}{}
			}
			io.Copy(io.Discard, r.Body) // fails when the relay gives up on the stream
		case "/download":
			chunk := pattern(0, 64<<10)
			for i := 0; i < 15<<4; i++ { // 15 MB, unless cut
				if _, err := w.Write(chunk); err != nil {
					return
				}
				if i == 4 {
					sending <- struct{}{}
				}
			}
		default:
			io.WriteString(w, "ok")
		}
	})
	states := startAgent(t, AgentConfig{RelayURL: relay.URL(), Token: f.token(t, "CT0700026"), Handler: handler})
	states.waitFor(t, 0, waitTimeout, "connected", isConnected)
	conn := relay.nextConn(t)

	cutUpload := func() {
		body, w := io.Pipe()
		req, _ := http.NewRequest(http.MethodPost, relay.URL()+"/upload", body)
		req.ContentLength = 15 << 20
		done := make(chan struct{})
		go func() {
			defer close(done)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		go func() {
			chunk := pattern(0, 64<<10)
			for {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}()
		<-reading
		w.CloseWithError(fmt.Errorf("the phone went away"))
		<-done
	}
	cutDownload := func() {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Get(relay.URL() + "/download")
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		<-sending
		io.CopyN(io.Discard, resp.Body, 1<<20)
		resp.Body.Close() // the phone went away: the relay's connection closes
	}

	heap := func() uint64 {
		runtime.GC()
		runtime.GC() // and what sync.Pools kept through the first
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	for range 3 { // warm up pools and connections
		cutUpload()
		cutDownload()
	}
	conn.Transport().CloseIdleConnections()
	waitStreams(t, conn)
	goroutines := runtime.NumGoroutine()
	before := heap()

	// Small requests on the same tunnel all along.
	ctx, stop := context.WithCancel(context.Background())
	var others sync.WaitGroup
	var mu sync.Mutex
	var served, failed int
	client := &http.Client{Timeout: 5 * time.Second}
	others.Go(func() {
		for ctx.Err() == nil {
			resp, err := client.Get(relay.URL() + "/status")
			ok := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			mu.Lock()
			if ok {
				served++
			} else {
				failed++
			}
			mu.Unlock()
		}
	})

	for range 20 {
		cutUpload()
		cutDownload()
	}
	stop()
	others.Wait()
	client.CloseIdleConnections()
	conn.Transport().CloseIdleConnections()
	// Every cut stream is reset within streamCloseTimeout: nothing of
	// them stays on either side.
	waitStreams(t, conn)
	waitGoroutines(t, goroutines+2)
	after := heap()
	t.Logf("heap in use %d -> %d, goroutines %d", before, after, runtime.NumGoroutine())

	if served == 0 || failed > 0 {
		t.Errorf("other streams during the cuts: %d served, %d failed; want all served", served, failed)
	}
	if err := conn.Alive(context.Background()); err != nil {
		t.Errorf("the tunnel is down after the cuts: %v", err)
	}
	// 20 cuts of 15 MB each: holding on to even one transfer's window per
	// cut would be 5 MB more.
	if after > before+4<<20 {
		t.Errorf("heap in use grew from %d to %d bytes over 40 cut transfers", before, after)
	}
}

// waitStreams waits until the tunnel has no stream open.
func waitStreams(t *testing.T, c *Conn) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for c.link.sess.NumStreams() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams still open", c.link.sess.NumStreams())
		}
		time.Sleep(10 * time.Millisecond) // polling: yamux signals nothing when a stream goes
	}
}
