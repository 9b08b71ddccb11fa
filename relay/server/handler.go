package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"casefleet/relay/metrics"
	"casefleet/relay/route"
	"casefleet/shared/tunnel"
)

// ServeHTTP is the relay's front door.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	withTLS(r)
	if r.ContentLength > s.cfg.MaxBodyBytes {
		// Refused before a byte of the body is read: a client that sent
		// "Expect: 100-continue" gets its final answer at once instead of
		// waiting for a 100 that never comes, and net/http, seeing the
		// body unread, closes the connection rather than drain it.
		s.instrument(w, r, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			s.answer(w, r, tooLargeFailure(s.cfg.MaxBodyBytes))
		})
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		// The handlers get a shallow copy whose body notes read errors
		// (see clientBody); the server keeps the original, which is how
		// it knows whether a 100 Continue was asked for and sent.
		body := &clientBody{ReadCloser: r.Body}
		if r.ContentLength < 0 {
			// Chunked: the limit is found while streaming. Given the
			// server's own writer (not the metrics' recorder), so that a
			// body over the limit also closes the connection.
			body.ReadCloser = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		r = r.WithContext(context.WithValue(r.Context(), clientBodyKey{}, body))
		r.Body = body
	}
	s.instrument(w, r, s.serve)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	m, fail := classify(r)
	if fail != nil {
		s.answer(w, r, *fail)
		return
	}
	switch m.kind {
	case routeConnect:
		s.connect(w, r)
		return
	case routeHealth:
		writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
		return
	case routeReady:
		if err := s.ready(r.Context()); err != nil {
			writeJSON(w, r, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
			return
		}
		writeJSON(w, r, http.StatusOK, map[string]string{"status": "ready"})
		return
	case routeMetrics:
		s.serveMetrics(w, r)
		return
	case routePeerAlive:
		s.serveAlive(w, r)
		return
	case routeRollout:
		s.serveRollout(w, r)
		return
	}

	// Everything else is a customer's (or a printer's) request. A slow
	// client has request_timeout to send its body and read the answer;
	// a WebSocket upgrade clears these deadlines when it takes over the
	// connection.
	now := time.Now()
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(now.Add(s.cfg.RequestTimeout))
	rc.SetWriteDeadline(now.Add(s.cfg.RequestTimeout))

	o := originOf(r, s.trusted)
	forwarded := o.peer && r.Header.Get(hopHeader) != ""
	if forwarded {
		s.met.PeerRequest(metrics.PeerReceived)
	} else { // a peer relay has counted it already
		if ok, wait := s.ipLimits.allow(o.client.String(), now); !ok {
			s.met.RateLimited(metrics.LimitIP)
			s.answer(w, r, rateLimited(wait))
			return
		}
		if sess := sessionOf(r); sess != "" {
			if ok, wait := s.sessionLimits.allow(sess, now); !ok {
				s.met.RateLimited(metrics.LimitSession)
				s.answer(w, r, rateLimited(wait))
				return
			}
		}
	}

	if m.kind == routeMachineAPI && tunnel.IsWebSocketUpgrade(r) {
		if !forwarded { // a peer relay has counted it already
			release, full := s.streams.acquire(o.client.String(), sessionOf(r))
			if full != "" {
				s.met.RateLimited(full)
				s.answer(w, r, tooManyStreams())
				return
			}
			defer release() // the proxy returns when the WebSocket ends
		}
		w = streamWriter{w, s.cfg.StreamIdleTimeout}
	}

	switch m.kind {
	case routeFleet:
		s.serveFleet(w, r)
	case routeMachines:
		s.serveMachines(w, r)
	case routeEditor, routeMachineAPI:
		s.forward(w, r, &target{match: m, origin: o}, r.Header.Get(hopHeader) != "")
	case routeApp:
		s.forwardApp(w, r, &target{match: m, origin: o}, r.Header.Get(hopHeader) != "")
	default:
		s.answer(w, r, *notFound())
	}
}

// forward sends r to the machine's tunnel here, or to the relay that
// holds it, or answers that the machine is offline or unknown.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, t *target, hopped bool) {
	code := t.match.code
	if tun := s.table.Get(code); tun != nil {
		t.tunnel = tun
		s.proxy.ServeHTTP(w, withTarget(r, t))
		return
	}
	if s.dir != nil && !hopped {
		e, err := s.dir.Lookup(r.Context(), code)
		switch {
		case err == nil && e.Instance != s.cfg.InstanceID:
			t.peer = &e
			s.proxy.ServeHTTP(w, withTarget(r, t))
			return
		case err != nil && !errors.Is(err, route.ErrNotFound):
			s.log.Warn("directory lookup", "machine", code, "err", err)
		}
	}
	s.answer(w, r, s.unavailable(r.Context(), r, code))
}

// forwardApp serves a web-app asset from the machine the browser is at,
// or, when that one is not online (or not known), from any online agent:
// the assets are the same on every agent of a version.
func (s *Server) forwardApp(w http.ResponseWriter, r *http.Request, t *target, hopped bool) {
	if t.match.code != "" {
		if tun := s.table.Get(t.match.code); tun != nil {
			t.tunnel = tun
			s.proxy.ServeHTTP(w, withTarget(r, t))
			return
		}
	}
	for _, m := range s.online(r.Context()) {
		if m.tunnel != nil {
			t.tunnel = m.tunnel
			break
		}
		if t.peer == nil && !hopped {
			e := m.entry
			t.peer = &e
		}
	}
	if t.tunnel != nil {
		t.peer = nil
	}
	if t.tunnel == nil && t.peer == nil {
		s.answer(w, r, noAgent())
		return
	}
	s.proxy.ServeHTTP(w, withTarget(r, t))
}
