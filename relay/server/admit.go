package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"casefleet/relay/metrics"
	"casefleet/relay/route"
	"casefleet/relay/streamhttp"
	"casefleet/shared/enroll"
	"casefleet/shared/tunnel"
)

// Timeouts of the tunnel's HTTP transport. Idle streams are dropped
// before the agent's own idle timeout (2 min), so the relay never sends a
// request on a stream the agent is closing.
const tunnelIdleTimeout = 90 * time.Second

// connect admits an agent's tunnel: the token must be signed by the fleet
// key, valid now, for the machine code the agent claims, and not revoked.
// A newer tunnel for a machine replaces the older one at once.
func (s *Server) connect(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		// The agent retries soon, and reaches another relay.
		s.met.TunnelRefused(metrics.RefusedShuttingDown)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, r, http.StatusServiceUnavailable, apiError{errorDetail{Code: "unavailable", Message: "relay is shutting down"}})
		return
	}
	o := originOf(r, s.trusted)
	var auth authResult
	conn, err := tunnel.Accept(w, r, tunnel.AcceptOptions{
		Authenticate: auth.record(s.authenticate),
		PublicURL:    s.cfg.PublicURL,
		KeepAlive:    s.cfg.KeepAlive,
		Logger:       s.log,
		AnswerChecks: true,
		AgentHandler: s.agentHandler(),
	})
	if errors.Is(err, tunnel.ErrCheckOnly) {
		s.log.Debug("credentials checked (enroll or doctor)", "remote", o.client.String(), "machine", r.Header.Get(tunnel.HeaderMachine))
		return
	}
	if err != nil {
		s.met.TunnelRefused(refusalReason(r, auth))
		s.log.Info("tunnel refused", "remote", o.client.String(), "err", err)
		return
	}
	t := &route.Tunnel{
		Conn: conn,
		Transport: &streamhttp.Transport{
			Dial: func(ctx context.Context) (net.Conn, error) {
				return conn.DialContext(ctx, "tcp", "agent")
			},
			MaxIdle:               64,
			IdleTimeout:           tunnelIdleTimeout,
			ResponseHeaderTimeout: s.cfg.ResponseHeaderTimeout,
		},
		ID:    newTunnelID(),
		Since: time.Now(),
	}
	log := s.log.With("machine", t.Machine(), "tunnel", t.ID)
	s.tunnelsMu.Lock()
	if s.closed {
		// The relay stopped while this agent was being admitted.
		s.tunnelsMu.Unlock()
		s.met.TunnelRefused(metrics.RefusedShuttingDown)
		t.Close()
		return
	}
	s.watchers.Add(1)
	old := s.table.Put(t)
	s.tunnelsMu.Unlock()
	s.met.TunnelConnected()
	if old != nil {
		log.Info("tunnel replaces the machine's older one", "old_tunnel", old.ID)
		old.CloseBecause(metrics.DisconnectReplaced)
	}
	s.seen.add(t.Machine(), t.Location())
	s.statuses.forget(t.Machine()) // what the old tunnel said is stale
	log.Info("tunnel up", "remote", o.client.String(), "version", conn.Version(), "location", t.Location(), "jti", conn.Claims().ID)

	if s.dir != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if err := s.dir.Claim(ctx, s.entry(t)); err != nil {
			// Served here all the same; the lease loop claims it again.
			log.Warn("directory claim failed", "err", err)
		}
		cancel()
	}
	t.Conn.AfterClose(func() { s.tunnelDown(t) })
}

// tunnelDown takes a tunnel that ended out of the table and the
// directory, unless a newer tunnel has replaced it.
func (s *Server) tunnelDown(t *route.Tunnel) {
	defer s.watchers.Done()
	t.Transport.CloseIdleConnections()
	log := s.log.With("machine", t.Machine(), "tunnel", t.ID)
	if !s.table.Remove(t) {
		s.met.TunnelDisconnected(metrics.DisconnectReplaced)
		log.Debug("replaced tunnel down", "err", t.Conn.Err())
		return
	}
	reason := t.ClosedBecause()
	if reason == "" {
		reason = metrics.DisconnectDropped
	}
	s.met.TunnelDisconnected(reason)
	log.Info("tunnel down", "err", t.Conn.Err(), "up_for", time.Since(t.Since).Round(time.Millisecond))
	if s.dir != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := s.dir.Release(ctx, s.entry(t)); err != nil {
			log.Warn("directory release failed; the lease lapses on its own", "err", err)
		}
	}
}

// livenessTimeout bounds the ping that decides whether a machine's
// current tunnel is alive when another agent asks for the machine: short,
// because a newcomer whose own old tunnel is half-open waits that long.
const livenessTimeout = 2 * time.Second

// authenticate is the tunnel's Authenticator: the fleet key, the current
// revocation list, and one kiosk per machine: a newcomer is refused while
// the machine's tunnel, here or at a peer relay, answers a ping.
func (s *Server) authenticate(r *http.Request, code, token string) (enroll.Claims, error) {
	v := enroll.Verifier{PublicKey: s.pub, Revocations: s.revs.Load()}
	claims, err := v.VerifyFor(code, token)
	if err != nil || tunnel.IsCheck(r) { // a check opens no tunnel
		return claims, err
	}
	return claims, s.checkNotConnected(r.Context(), code)
}

// checkNotConnected returns an error wrapping tunnel.ErrAlreadyConnected
// if machine code has a live tunnel, here or (by the directory) at a peer
// relay. A tunnel that does not answer in livenessTimeout is dead or
// half-open: the newcomer replaces it, as before. When the directory or
// the peer cannot be asked, the newcomer is let in: a kiosk is never kept
// offline by an outage of Redis or of another relay.
func (s *Server) checkNotConnected(ctx context.Context, code string) error {
	if t := s.table.Get(code); t != nil {
		ctx, cancel := context.WithTimeout(ctx, livenessTimeout)
		defer cancel()
		if err := t.Conn.Alive(ctx); err != nil {
			s.log.Info("the machine's tunnel does not answer; a new agent replaces it", "machine", code, "tunnel", t.ID, "err", err)
			return nil
		}
		return alreadyConnected(code, t.Since)
	}
	if s.dir == nil {
		return nil
	}
	// The peer pings for livenessTimeout; its answer gets a second more.
	ctx, cancel := context.WithTimeout(ctx, livenessTimeout+time.Second)
	defer cancel()
	e, err := s.dir.Lookup(ctx, code)
	if err != nil || e.Instance == s.cfg.InstanceID {
		return nil // not held anywhere, or by a tunnel of ours now gone
	}
	alive, err := s.askPeerAlive(ctx, e)
	if err != nil {
		s.log.Warn("could not ask the relay holding the machine whether its tunnel is alive; admitting the new agent",
			"machine", code, "peer", e.Instance, "err", err)
		return nil
	}
	if !alive {
		return nil
	}
	return alreadyConnected(code, time.UnixMilli(e.Since))
}

func alreadyConnected(code string, since time.Time) error {
	return fmt.Errorf("%w: %s is connected already (a live tunnel since %s), and only one agent may hold a machine: "+
		"is a copy of this kiosk running with its token?", tunnel.ErrAlreadyConnected, code, since.UTC().Format("2006-01-02 15:04:05 UTC"))
}

// entry is t's directory entry. It is the same for every refresh, which
// is how the directory tells whose lease it is.
func (s *Server) entry(t *route.Tunnel) route.Entry {
	return route.Entry{
		Machine: t.Machine(), Instance: s.cfg.InstanceID, URL: s.cfg.AdvertiseURL,
		Tunnel: t.ID, Location: t.Location(), Since: t.Since.UnixMilli(),
	}
}

// leaseLoop renews this relay's directory entries every third of the
// lease, and closes tunnels whose machine another relay has taken over
// (the agent has moved on; this tunnel is dead but not yet noticed).
func (s *Server) leaseLoop(ctx context.Context) {
	tick := time.NewTicker(s.dir.LeaseTTL() / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		tunnels := s.table.All()
		entries := make([]route.Entry, len(tunnels))
		for i, t := range tunnels {
			entries[i] = s.entry(t)
		}
		rctx, cancel := context.WithTimeout(ctx, s.dir.LeaseTTL()/3)
		lost, err := s.dir.Refresh(rctx, entries)
		cancel()
		if err != nil {
			s.log.Warn("refresh directory leases", "err", err)
			continue
		}
		for _, e := range lost {
			if t := s.table.Get(e.Machine); t != nil && t.ID == e.Tunnel {
				s.log.Info("another relay holds the machine now; closing the stale tunnel", "machine", e.Machine, "tunnel", e.Tunnel)
				t.CloseBecause(metrics.DisconnectMoved)
			}
		}
	}
}

// ReloadRevocations reads the revocation file again and closes the
// tunnels it now revokes. On error the previous list stays in force.
func (s *Server) ReloadRevocations() error {
	s.revMu.Lock()
	defer s.revMu.Unlock()
	stamp, _ := stampOf(s.cfg.Revocations)
	revs, err := enroll.LoadRevocations(s.cfg.Revocations)
	if err != nil {
		return err
	}
	s.revStamp = stamp
	s.revs.Store(revs)
	s.log.Info("revocations loaded", "file", s.cfg.Revocations, "entries", revs.Len())
	for _, t := range s.table.All() {
		if err := revs.Check(t.Conn.Claims()); err != nil {
			s.log.Info("closing a revoked tunnel", "machine", t.Machine(), "reason", err)
			t.CloseBecause(metrics.DisconnectRevoked)
		}
	}
	return nil
}

// fileStamp tells whether a file changed.
type fileStamp struct {
	size    int64
	modTime time.Time
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.Size(), fi.ModTime()}, nil
}

// watchRevocations reloads the revocation file when it changes.
func (s *Server) watchRevocations(ctx context.Context) {
	tick := time.NewTicker(s.cfg.RevocationsPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		stamp, err := stampOf(s.cfg.Revocations)
		if err != nil {
			s.log.Warn("revocation file", "err", err)
			continue
		}
		s.revMu.Lock()
		changed := stamp != s.revStamp
		s.revMu.Unlock()
		if changed {
			if err := s.ReloadRevocations(); err != nil {
				s.log.Error("revocation file changed but does not load; keeping the previous list", "err", err)
				s.revMu.Lock()
				s.revStamp = stamp // do not retry until it changes again
				s.revMu.Unlock()
			}
		}
	}
}

func newTunnelID() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
