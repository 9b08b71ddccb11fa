package server

import (
	"crypto/subtle"
	"net/http"
	"sort"
	"strings"

	"casefleet/relay/metrics"
)

// serveMetrics answers GET /metrics, with the bearer token metrics_token
// when it is set.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if want := s.cfg.MetricsToken; want != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(want)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="casefleet-relay metrics"`)
			s.answer(w, r, failure{status: http.StatusUnauthorized, code: "unauthorized"})
			return
		}
	}
	s.metricsOut.ServeHTTP(w, r)
}

// machines are the machines that had a tunnel on this relay since it
// started, and whether it is up now: the metrics' per-machine gauge.
func (s *Server) machines() []metrics.Machine {
	seen := s.seen.all()
	out := make([]metrics.Machine, 0, len(seen))
	for code, location := range seen {
		out = append(out, metrics.Machine{Code: code, Location: location, Up: s.table.Get(code) != nil})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}
