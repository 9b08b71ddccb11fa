// Package server is the relay's HTTP front: it admits kiosk agents'
// tunnels, routes customers' requests for a machine through that
// machine's tunnel (or to the peer relay that holds it), and protects the
// agents behind it with rate limits, size limits and timeouts.
package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"casefleet/relay/config"
	"casefleet/relay/fleetpage"
	"casefleet/relay/metrics"
	"casefleet/relay/pages"
	"casefleet/relay/route"
	"casefleet/relay/updates"
	"casefleet/shared/enroll"
	"casefleet/shared/locale"
	"casefleet/shared/release"
)

// Server is one relay instance.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	pub     ed25519.PublicKey
	revs    atomic.Pointer[enroll.Revocations]
	trusted []netip.Prefix

	table    *route.Table
	dir      *route.Directory // nil when the relay runs alone
	peers    *http.Transport  // to other relays
	proxy    *httputil.ReverseProxy
	statuses *statusCache
	seen     *seenMachines

	ipLimits      *limiter
	sessionLimits *limiter
	streams       *streamCaps // customers' WebSockets open at once

	met        *metrics.Metrics
	metricsOut http.Handler // met's handler
	routes     *routeLabels

	updates *updates.Updates // agent updates; nil without releases_dir

	pages *pages.Pages    // the relay's own pages for browsers
	langs *locale.Matcher // picks their language

	fleet      *fleetWatch // the fleet owner's page: the fleet, gathered
	fleetAuth  *fleetAuth  // its logins and sessions
	fleetPages *fleetpage.Pages

	draining  atomic.Bool
	tunnelsMu sync.Mutex     // orders admissions against closeTunnels
	closed    bool           // set by closeTunnels: admit no more
	watchers  sync.WaitGroup // one per admitted tunnel

	revMu    sync.Mutex // serialises revocation reloads
	revStamp fileStamp
}

// Option is an optional setting of New that is not configuration.
type Option func(*options)

type options struct {
	version string
}

// WithVersion is the relay's version, as its metrics report it.
func WithVersion(v string) Option {
	return func(o *options) { o.version = v }
}

// New checks cfg, loads the fleet public key and the revocation list, and
// returns a relay ready to Serve.
func New(cfg config.Config, log *slog.Logger, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	pub, err := enroll.LoadPublicKey(cfg.FleetPub)
	if err != nil {
		return nil, fmt.Errorf("fleet_pub: %w", err)
	}
	trusted, _ := cfg.TrustedPrefixes() // checked by Validate
	pg, err := pages.New()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:           cfg,
		log:           log,
		pub:           pub,
		trusted:       trusted,
		table:         route.NewTable(),
		statuses:      &statusCache{ttl: cfg.StatusCacheTTL, entries: map[string]cachedStatus{}},
		seen:          &seenMachines{byID: map[string]string{}},
		ipLimits:      newLimiter(cfg.RateIP, cfg.RateIPBurst),
		sessionLimits: newLimiter(cfg.RateSession, cfg.RateSessionBurst),
		streams:       newStreamCaps(cfg.MaxStreamsIP, cfg.MaxStreamsSession),
		routes:        newRouteLabels(),
		pages:         pg,
		langs:         locale.NewMatcher(),
	}
	if cfg.ReleasesDir != "" {
		rpub, err := release.LoadPublicKey(cfg.ReleasePub)
		if err != nil {
			return nil, fmt.Errorf("release_pub: %w", err)
		}
		s.updates, err = updates.New(updates.Options{
			ReleasesDir: cfg.ReleasesDir, ReleasePub: rpub, RolloutFile: cfg.Rollout,
			RedisURL: cfg.RedisURL, Prefix: cfg.RedisPrefix, Logger: log,
			OnChange: s.nudgeAgents,
		})
		if err != nil {
			return nil, err
		}
	}
	s.met = metrics.New(metrics.Options{Instance: cfg.InstanceID, Version: o.version, Machines: s.machines, Rollout: s.rolloutMetrics, Logger: log})
	s.metricsOut = s.met.Handler()
	s.revs.Store(&enroll.Revocations{})
	if cfg.Revocations != "" {
		if err := s.ReloadRevocations(); err != nil {
			return nil, fmt.Errorf("revocations: %w", err)
		}
	}
	s.peers = &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
	}
	if cfg.RedisURL != "" {
		s.dir, err = route.NewDirectory(route.DirectoryOptions{
			URL: cfg.RedisURL, Prefix: cfg.RedisPrefix, LeaseTTL: cfg.LeaseTTL,
			OnError: func(op string, _ error) { s.met.DirectoryError(op) }, // the callers log the error
		})
		if err != nil {
			return nil, fmt.Errorf("redis_url: %w", err)
		}
	}
	s.proxy = s.newProxy()
	if s.fleetPages, err = fleetpage.New(); err != nil {
		return nil, err
	}
	s.fleet = newFleetWatch(s)
	s.fleetAuth = newFleetAuth(s, time.Now)
	if cfg.PublicURL == "" {
		log.Warn("public_url is not set: agents are told no public URL, so printers cannot fetch print files through this relay")
	}
	if cfg.MetricsToken == "" {
		log.Info("GET /metrics is open to anyone who reaches the relay; set metrics_token to require a bearer token")
	}
	return s, nil
}

// Serve serves on ln until ctx is done, then shuts down gracefully: it
// stops accepting, lets requests in flight finish (up to
// shutdown_timeout), gives up its directory entries and closes the
// tunnels last, so that agents reconnect to another relay.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		// OPTIONS * is ours to refuse, too.
		DisableGeneralOptionsHandler: true,
		// Over the relay's own HTTPS, what the connection wrapper hides
		// from net/http (see withTLS).
		ConnContext: connContext,
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	bg, stopBG := context.WithCancel(context.Background())
	var loops sync.WaitGroup
	loops.Go(func() { s.sweepLoop(bg) })
	loops.Go(func() { s.fleet.run(bg) })
	srv.RegisterOnShutdown(s.fleet.closeStreams) // the fleet page's live streams end
	if s.dir != nil {
		loops.Go(func() { s.leaseLoop(bg) })
	}
	if s.cfg.Revocations != "" {
		loops.Go(func() { s.watchRevocations(bg) })
	}
	if s.updates != nil {
		loops.Go(func() { s.updates.Run(bg) })
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(protocolErrorListener{ln}) }()
	s.log.Info("relay serving", "listen", ln.Addr().String(), "public_url", s.cfg.PublicURL, "redis", s.dir != nil)

	var err error
	select {
	case err = <-served:
		err = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	s.draining.Store(true)
	s.log.Info("relay stopping: draining requests", "tunnels", s.table.Len())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	if serr := srv.Shutdown(sctx); serr != nil {
		s.log.Warn("requests still running at shutdown_timeout", "err", serr)
		srv.Close()
	}
	cancel()
	stopBG()
	loops.Wait()
	s.closeTunnels()
	s.peers.CloseIdleConnections()
	if s.dir != nil {
		s.dir.Close()
	}
	if s.updates != nil {
		s.updates.Close()
	}
	s.log.Info("relay stopped")
	return err
}

// closeTunnels releases this relay's directory entries and closes every
// tunnel, then waits for their watchers.
func (s *Server) closeTunnels() {
	s.tunnelsMu.Lock()
	s.closed = true
	tunnels := s.table.All()
	s.tunnelsMu.Unlock()
	if s.dir != nil && len(tunnels) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		for _, t := range tunnels {
			if err := s.dir.Release(ctx, s.entry(t)); err != nil {
				s.log.Warn("release directory entry", "machine", t.Machine(), "err", err)
				break // Redis is away; the leases lapse on their own
			}
		}
		cancel()
	}
	for _, t := range tunnels {
		t.CloseBecause(metrics.DisconnectShutdown)
	}
	s.watchers.Wait()
}

// sweepLoop forgets idle rate-limit state and stale statuses.
func (s *Server) sweepLoop(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			s.ipLimits.sweep(now, 10*time.Minute)
			s.sessionLimits.sweep(now, 10*time.Minute)
			s.statuses.sweep(now)
		}
	}
}

// ready reports whether the relay should get traffic: it is not stopping,
// and Redis answers when it has one.
func (s *Server) ready(ctx context.Context) error {
	if s.draining.Load() {
		return errors.New("shutting down")
	}
	if s.dir != nil {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return s.dir.Ping(ctx)
	}
	return nil
}
