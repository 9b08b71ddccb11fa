package update

import (
	"context"
	"net/http"
	"net/http/httptest"
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
	e.relay.onCut = func() { current.Load().Close() } // the whole tunnel goes
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
