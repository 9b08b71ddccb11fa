package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"casefleet/shared/instrument"
)

// routeUnmatched labels a request no ServeMux pattern matched.
const routeUnmatched = "unmatched"

// Instrument wraps the LAN (or tunnel) handler and records each request's
// latency under the ServeMux pattern that served it (r.Pattern, e.g.
// "GET /api/chitu/machine/{code}/status"), never the raw path, so the
// number of series stays bounded whatever clients ask for.
//
// It must wrap the muxes from outside and the muxes must pass the request
// on unchanged (no http.StripPrefix in between): a ServeMux writes the
// pattern into the *http.Request it is given, and that is what Instrument
// reads after the handler returns. Long-lived streams (WebSocket upgrades,
// server-sent events) are not timed: their duration is not latency.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &instrument.Recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
			return
		}
		route := r.Pattern
		if route == "" {
			route = routeUnmatched
		}
		m.requests.WithLabelValues(route, strconv.Itoa(rec.Status())).Observe(time.Since(start).Seconds())
	})
}
