package server

import (
	"net/http"
	"strings"
	"time"

	"casefleet/shared/instrument"
)

// instrument serves r through serve and records it in the metrics: its
// route pattern, status and latency. A WebSocket is timed until it is
// switched (101), and a customer's counts as an open stream until it ends.
func (s *Server) instrument(w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter, *http.Request)) {
	start := time.Now()
	route := s.routes.label(r)
	var streamClosed func()
	rec := &instrument.Recorder{ResponseWriter: w}
	rec.OnHijack = func() {
		s.met.ObserveRequest(route, http.StatusSwitchingProtocols, time.Since(start))
		if route != connectRoute { // a tunnel, counted as one
			streamClosed = s.met.StreamOpened()
		}
	}
	// Deferred, so that a request the proxy aborts (http.ErrAbortHandler:
	// the agent's answer broke off) is still counted.
	defer func() {
		if rec.Hijacked() {
			if streamClosed != nil {
				streamClosed()
			}
			return
		}
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
			return // the fleet page's live stream: its duration is not latency (as the agent's metrics)
		}
		s.met.ObserveRequest(route, rec.Status(), time.Since(start))
	}()
	serve(rec, r)
}
