package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"
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
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
			return
		}
		route := r.Pattern
		if route == "" {
			route = routeUnmatched
		}
		code := rec.status
		if code == 0 {
			code = http.StatusOK
		}
		m.requests.WithLabelValues(route, strconv.Itoa(code)).Observe(time.Since(start).Seconds())
	})
}

// statusRecorder remembers the status code written. Unwrap lets
// http.ResponseController (and WebSocket libraries) reach the original
// writer's Flush, Hijack and deadlines.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush passes on to the original writer, for handlers that assert
// http.Flusher rather than use a ResponseController.
func (s *statusRecorder) Flush() {
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
