package update

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"casefleet/shared/enroll"
	"casefleet/shared/tunnel"
)

// Through the real tunnel: the agent asks the relay's AgentHandler over
// a stream it opens, the relay cuts the tunnel in the middle of the
// download, the agent reconnects and the download resumes with Range
// where the agent's bytes ended; nothing it had is served again.
func TestThroughTheTunnelACutDownloadResumes(t *testing.T) {
	e := newEnv(t)
	e.release(running, 10_000, nil)
	const size, cutAt = 2_000_000, 700_000
	e.offer(newer, size, nil)

	pub, priv, _ := enroll.GenerateKey()
	v := &enroll.Verifier{PublicKey: pub}
	var current atomic.Pointer[tunnel.Conn]
	var tunnels atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := tunnel.Accept(w, r, tunnel.AcceptOptions{
			Authenticate: func(_ *http.Request, code, tok string) (enroll.Claims, error) { return v.VerifyFor(code, tok) },
			AgentHandler: e.relay,
			Logger:       e.options().Logger,
		})
		if err == nil {
			current.Store(c)
			tunnels.Add(1)
		}
	}))
	t.Cleanup(srv.Close)
	e.relay.mu.Lock()
	e.relay.cutAt, e.relay.cutOf = cutAt, newer
	e.relay.onCut = func() {
		// Once some of the package is on the agent's disk: the relay's
		// writes only fill the stream's window, and a cut before the first
		// byte arrives leaves nothing to resume from.
		for deadline := time.Now().Add(wait); !partHasBytes(e.dir); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Error("no byte of the package reached the agent's disk before the cut")
				break
			}
		}
		current.Load().Close() // the whole tunnel goes
	}
	e.relay.mu.Unlock()

	rc := tunnel.NewRelayClient()
	var u *Updater
	u = e.start(func(o *Options) { o.Relay = rc })
	token, _ := enroll.Issue(priv, enroll.Claims{Machine: "CT0700026"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tunnel.RunAgent(ctx, tunnel.AgentConfig{
			RelayURL: srv.URL, MachineCode: "CT0700026", Token: token, Version: running,
			Handler: http.NotFoundHandler(), RelayClient: rc, Logger: e.options().Logger,
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
			OnState: func(st tunnel.State) {
				if st.Connected {
					u.Connected()
				}
			},
		})
	}()
	t.Cleanup(func() { cancel(); <-done })

	e.waitReport(StateReady)
	if n := tunnels.Load(); n < 2 {
		t.Errorf("%d tunnel(s): the cut did not take the tunnel down", n)
	}
	served, ranges := e.relay.stats()
	last := ranges[len(ranges)-1]
	resumedAt, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(last, "bytes="), "-"), 10, 64)
	if err != nil || resumedAt <= 0 || resumedAt > cutAt {
		t.Fatalf("package requests' ranges %q: the last should resume after the cut at up to %d bytes", ranges, cutAt)
	}
	// The relay served the kept package, the new one up to the cut, and
	// the rest from where the agent's bytes ended (what the cut lost in
	// flight is served again, nothing before).
	if want := int64(10_000+size) + (cutAt - resumedAt); served != want {
		t.Errorf("the relay served %d package bytes, want %d (resumed at %d)", served, want, resumedAt)
	}
	e.waitReport(StateInstalling)
}

// A relay of an earlier version resets the agent's streams: the agent
// says so once in the log and in its status, and carries on.
func TestARelayWithoutTheUpdateAPI(t *testing.T) {
	e := newEnv(t)
	pub, priv, _ := enroll.GenerateKey()
	v := &enroll.Verifier{PublicKey: pub}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tunnel.Accept(w, r, tunnel.AcceptOptions{ // no AgentHandler
			Logger:       e.options().Logger,
			Authenticate: func(_ *http.Request, code, tok string) (enroll.Claims, error) { return v.VerifyFor(code, tok) },
		})
	}))
	t.Cleanup(srv.Close)
	rc := tunnel.NewRelayClient()
	answered := make(chan error, 10)
	u := e.start(func(o *Options) { o.Relay = doneRelay{rc, answered} })
	token, _ := enroll.Issue(priv, enroll.Claims{Machine: "CT0700026"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tunnel.RunAgent(ctx, tunnel.AgentConfig{RelayURL: srv.URL, MachineCode: "CT0700026", Token: token,
			Handler: http.NotFoundHandler(), RelayClient: rc, Logger: e.options().Logger,
			OnState: func(st tunnel.State) {
				if st.Connected {
					u.Connected()
				}
			}})
	}()
	t.Cleanup(func() { cancel(); <-done })
	s := e.waitStatus("the relay's silence", func(s Status) bool {
		return strings.Contains(s.Reason, "a relay of an earlier version serves no updates")
	})
	if s.State != "" || !strings.HasPrefix(s.Summary, "no answer from the relay: ") || s.Attention {
		t.Errorf("status %+v", s)
	}
	<-answered
	u.Connected()
	if err := <-answered; err == nil || errors.Is(err, tunnel.ErrNotConnected) {
		t.Fatalf("asked again: %v, want the stream refused", err)
	}
	u.Connected() // the third question comes after the second round is over
	<-answered
	if n := strings.Count(e.log.String(), "the relay did not say"); n != 1 {
		t.Errorf("said %d times in the log", n)
	}
}

// doneRelay tells each request's outcome.
type doneRelay struct {
	Relay
	done chan<- error
}

func (d doneRelay) Do(r *http.Request) (*http.Response, error) {
	resp, err := d.Relay.Do(r)
	d.done <- err
	return resp, err
}

// partHasBytes reports whether a download in dir has bytes on disk.
func partHasBytes(dir string) bool {
	parts, _ := filepath.Glob(filepath.Join(dir, "*"+partSuffix))
	for _, p := range parts {
		if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
			return true
		}
	}
	return false
}
