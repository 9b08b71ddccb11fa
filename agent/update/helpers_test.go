package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"casefleet/shared/release"
	"casefleet/shared/release/releasetest"
	"casefleet/shared/tunnel"
)

const (
	running = "v1.5.0"
	newer   = "v1.6.0"
	wait    = 15 * time.Second
)

// fakeRelay is the relay's update API (docs/updates.md) as an
// http.Handler: the offer, the releases directory and the reports. It
// counts the package bytes it serves and can cut a download once.
type fakeRelay struct {
	mu        sync.Mutex
	offer     map[string]any
	files     map[string][]byte // "VERSION/FILE"
	served    int64             // package bytes written
	ranges    []string          // Range of each package request
	cutAt     int64             // > 0: the next answer of a package of cutOf stops after this many bytes
	cutOf     string            // a version
	onCut     func()            // at the cut (default: abort the connection)
	asks      chan url.Values
	reports   chan report
	reportsMu sync.Mutex
	all       []report
}

func newFakeRelay() *fakeRelay {
	return &fakeRelay{offer: map[string]any{"target": ""}, files: map[string][]byte{},
		asks: make(chan url.Values, 100), reports: make(chan report, 100)}
}

func (f *fakeRelay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == pathUpdate:
		f.mu.Lock()
		b, _ := json.Marshal(f.offer)
		f.mu.Unlock()
		f.asks <- r.URL.Query()
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	case r.Method == http.MethodPost && r.URL.Path == pathReport:
		var rep report
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.reportsMu.Lock()
		f.all = append(f.all, rep)
		f.reportsMu.Unlock()
		f.reports <- rep
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, pathReleases):
		key := strings.TrimPrefix(r.URL.Path, pathReleases)
		f.mu.Lock()
		data, ok := f.files[key]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(key, "/"+ManifestFile) {
			w.Write(data)
			return
		}
		f.servePackage(w, r, key, data)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeRelay) servePackage(w http.ResponseWriter, r *http.Request, key string, data []byte) {
	f.mu.Lock()
	f.ranges = append(f.ranges, r.Header.Get("Range"))
	var cutAt int64
	onCut := f.onCut
	if f.cutOf != "" && strings.HasPrefix(key, f.cutOf+"/") {
		cutAt, f.cutAt = f.cutAt, 0
	}
	f.mu.Unlock()
	start := int64(0)
	if rg := r.Header.Get("Range"); rg != "" {
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"), 10, 64)
		if err != nil || n >= int64(len(data)) {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
	}
	body := data[start:]
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if start > 0 {
		w.WriteHeader(http.StatusPartialContent)
	}
	if cutAt > 0 && cutAt < int64(len(body)) {
		n, _ := w.Write(body[:cutAt])
		f.count(n)
		w.(http.Flusher).Flush()
		if onCut != nil {
			onCut()
			return
		}
		panic(http.ErrAbortHandler)
	}
	n, _ := w.Write(body)
	f.count(n)
}

func (f *fakeRelay) count(n int) {
	f.mu.Lock()
	f.served += int64(n)
	f.mu.Unlock()
}

func (f *fakeRelay) setOffer(target string, manifest []byte, downgrade bool) {
	f.mu.Lock()
	f.offer = map[string]any{"target": target, "manifest": string(manifest), "downgrade": downgrade}
	f.mu.Unlock()
}

func (f *fakeRelay) put(version, file string, data []byte) {
	f.mu.Lock()
	f.files[version+"/"+file] = data
	f.mu.Unlock()
}

func (f *fakeRelay) stats() (served int64, ranges []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served, append([]string(nil), f.ranges...)
}

func (f *fakeRelay) reported() []report {
	f.reportsMu.Lock()
	defer f.reportsMu.Unlock()
	return append([]report(nil), f.all...)
}

// httpRelay sends the updater's requests to a loopback server, as the
// tunnel's RelayClient sends them to the relay; down, it fails the way
// the RelayClient does without a tunnel.
type httpRelay struct {
	base string
	down atomic.Bool
}

func (h *httpRelay) Do(req *http.Request) (*http.Response, error) {
	if h.down.Load() {
		return nil, fmt.Errorf("%s %s to the relay: %w", req.Method, req.URL.Path, tunnel.ErrNotConnected)
	}
	out := req.Clone(req.Context())
	u, _ := url.Parse(h.base)
	out.URL.Scheme, out.URL.Host, out.Host = u.Scheme, u.Host, u.Host
	return http.DefaultTransport.RoundTrip(out)
}

// env is one kiosk's updater against a fake relay.
type env struct {
	t          *testing.T
	dataDir    string
	dir        string
	priv       ed25519.PrivateKey
	pub        ed25519.PublicKey
	openFile   func(string, int, fs.FileMode) (*os.File, error) // replaces the updater's, if set
	pubPath    string
	formatPath string
	platform   string
	relay      *fakeRelay
	client     *httpRelay
	idle       atomic.Bool
	wake       chan struct{}
	changed    chan struct{}
	u          *Updater
	before     map[string]string // the data dir outside update/, hashed
	log        syncBuffer
}

// syncBuffer is the updater's log, read by the tests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dataDir: t.TempDir(), relay: newFakeRelay(), wake: make(chan struct{}, 1), changed: make(chan struct{}, 1)}
	e.dir = filepath.Join(e.dataDir, "update")
	keys, pub, priv := releasetest.Keys(t)
	e.priv, e.pub, e.pubPath = priv, pub, filepath.Join(keys, release.PublicKeyFile)
	e.formatPath = filepath.Join(keys, FormatFileName)
	format := "deb"
	if os.Getenv("GOOS") == "windows" {
		format = "msi"
	}
	if err := os.WriteFile(e.formatPath, []byte(format+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.platform, err = Platform(e.formatPath); err != nil {
		t.Skipf("no release platform here: %v", err)
	}
	srv := httptest.NewServer(e.relay)
	t.Cleanup(srv.Close)
	e.client = &httpRelay{base: srv.URL}
	// The kiosk's queue and print files, which no update may touch.
	os.WriteFile(filepath.Join(e.dataDir, "casefleet.db"), []byte("the queue"), 0o600)
	os.MkdirAll(filepath.Join(e.dataDir, "printfiles"), 0o750)
	os.WriteFile(filepath.Join(e.dataDir, "printfiles", "order.tiff"), []byte("a print"), 0o600)
	e.before = e.outside()
	e.idle.Store(true)
	return e
}

// outside hashes every file of the data dir outside update/.
func (e *env) outside() map[string]string {
	m := map[string]string{}
	filepath.WalkDir(e.dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == e.dir {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			b, _ := os.ReadFile(p)
			s := sha256.Sum256(b)
			m[p] = hex.EncodeToString(s[:])
		}
		return nil
	})
	return m
}

func (e *env) options() Options {
	return Options{
		Version: running, Dir: e.dir, Enabled: true, ReleasePub: e.pubPath, FormatFile: e.formatPath,
		Relay: e.client,
		Idle: func() (bool, string, error) {
			if e.idle.Load() {
				return true, "", nil
			}
			return false, "1 order in line", nil
		},
		Changes:  func() (<-chan struct{}, func()) { return e.wake, func() {} },
		Logger:   slog.New(slog.NewTextHandler(io.MultiWriter(&e.log, testWriter{e.t}), nil)),
		OnChange: func() { e.notify() },
		IdlePoll: time.Hour, // the line's changes wake it (Changes)
		Interval: time.Hour, // questions come from Connected
	}
}

func (e *env) notify() {
	select {
	case e.changed <- struct{}{}:
	default:
	}
}

// start runs an updater with the options, changed by mods, until the
// test ends.
func (e *env) start(mods ...func(*Options)) *Updater {
	e.t.Helper()
	opt := e.options()
	for _, m := range mods {
		m(&opt)
	}
	u, err := New(opt)
	if err != nil {
		e.t.Fatal(err)
	}
	if e.openFile != nil {
		u.openFile = e.openFile
	}
	u.resultPoll = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		u.Run(ctx)
	}()
	e.t.Cleanup(func() { cancel(); <-done })
	e.u = u
	return u
}

// release signs a release of version with a package of size random
// bytes for this platform (mutate changes the manifest before signing),
// puts both on the relay and returns the signed manifest and package.
func (e *env) release(version string, size int, mutate func(*release.Manifest)) ([]byte, []byte) {
	e.t.Helper()
	pkg := make([]byte, size)
	rand.Read(pkg)
	file := map[string]string{
		release.LinuxAMD64Deb: "casefleet-agent_" + strings.TrimPrefix(version, "v") + "_amd64.deb",
		release.LinuxARM64Deb: "casefleet-agent_" + strings.TrimPrefix(version, "v") + "_arm64.deb",
	}[e.platform]
	sum := sha256.Sum256(pkg)
	m := release.Manifest{Version: version, Created: time.Now().UTC(), Packages: []release.Package{
		{Platform: e.platform, File: file, Size: int64(size), SHA256: hex.EncodeToString(sum[:])},
	}}
	if mutate != nil {
		mutate(&m)
	}
	signed, err := release.Sign(e.priv, m)
	if err != nil {
		e.t.Fatal(err)
	}
	e.relay.put(version, ManifestFile, signed)
	e.relay.put(version, file, pkg)
	return signed, pkg
}

// offer makes the relay offer a release of target made by release.
func (e *env) offer(target string, size int, mutate func(*release.Manifest)) ([]byte, []byte) {
	signed, pkg := e.release(target, size, mutate)
	e.relay.setOffer(target, signed, false)
	return signed, pkg
}

// waitStatus waits until the updater's status satisfies cond.
func (e *env) waitStatus(what string, cond func(Status) bool) Status {
	e.t.Helper()
	deadline := time.After(wait)
	for {
		s := e.u.Status()
		if cond(s) {
			return s
		}
		select {
		case <-e.changed:
		case <-deadline:
			e.t.Fatalf("waiting for %s: status %+v", what, s)
		}
	}
}

func (e *env) waitState(state string) Status {
	e.t.Helper()
	return e.waitStatus("state "+state, func(s Status) bool { return s.State == state })
}

// waitReport waits for the relay to receive a report of state.
func (e *env) waitReport(state string) report {
	e.t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case r := <-e.relay.reports:
			if r.State == state {
				return r
			}
		case <-deadline:
			e.t.Fatalf("no %s report; the relay has %+v", state, e.relay.reported())
		}
	}
}

// waitAsk waits for the updater's next question to the relay.
func (e *env) waitAsk() url.Values {
	e.t.Helper()
	select {
	case q := <-e.relay.asks:
		return q
	case <-time.After(wait):
		e.t.Fatal("the updater did not ask the relay")
	}
	return nil
}

// stayed checks that the agent stays on its version: nothing handed to
// the installer, nothing outside update/ changed.
func (e *env) stayed() {
	e.t.Helper()
	if _, err := os.Stat(filepath.Join(e.dir, RequestFile)); err == nil {
		e.t.Error("request.json was written: the installer would install")
	}
	e.untouched()
}

// untouched checks that nothing outside update/ (the queue, the print
// files) changed.
func (e *env) untouched() {
	e.t.Helper()
	after := e.outside()
	if len(after) != len(e.before) {
		e.t.Errorf("files outside update/: %v, were %v", after, e.before)
	}
	for p, h := range e.before {
		if after[p] != h {
			e.t.Errorf("%s changed", p)
		}
	}
}

// testWriter shows the updater's log in the test's output with
// CASEFLEET_TEST_LOG=1.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	if os.Getenv("CASEFLEET_TEST_LOG") != "" {
		w.t.Log(string(bytes.TrimRight(b, "\n")))
	}
	return len(b), nil
}
