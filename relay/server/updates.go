package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"casefleet/relay/fleet"
	"casefleet/relay/metrics"
	"casefleet/relay/updates"
)

// agentHandler serves the agents' own requests on their tunnels: the
// update API, when updates are on.
func (s *Server) agentHandler() http.Handler {
	if s.updates == nil {
		return nil
	}
	return s.updates.Handler()
}

// ReloadRollout reads the rollout file again if it changed (SIGHUP).
func (s *Server) ReloadRollout() {
	if s.updates != nil {
		s.updates.Reload()
	}
}

// rolloutMetrics is the rollout's state for a scrape.
func (s *Server) rolloutMetrics() (metrics.Rollout, bool) {
	if s.updates == nil {
		return metrics.Rollout{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := s.updates.Status(ctx)
	if err != nil || st.Rollout.Target == "" {
		return metrics.Rollout{}, false
	}
	r := metrics.Rollout{Version: st.Rollout.Target, Halted: st.Halted, States: map[string]int{}}
	for _, c := range st.Counts {
		r.States[c.State] = c.Machines
	}
	return r, true
}

// rolloutPath answers the rollout's state to the fleet owner (casefleet-relay
// rollout status), with an admin token from issue-admin as the bearer.
const rolloutPath = "/relay/v1/rollout"

// RolloutStatus is GET /relay/v1/rollout's answer.
type RolloutStatus struct {
	Target         string            `json:"target"`
	Percent        float64           `json:"percent"`
	Locations      []string          `json:"locations,omitempty"`
	Canaries       []string          `json:"canaries,omitempty"`
	HaltAfter      int               `json:"haltAfter"`
	AllowDowngrade bool              `json:"allowDowngrade,omitempty"`
	Halted         bool              `json:"halted"`
	Machines       map[string]int    `json:"machines"` // by state
	Failed         map[string]string `json:"failed"`   // machine -> failed or rolled_back
	FileError      string            `json:"fileError,omitempty"`
}

func (s *Server) serveRollout(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		w.Header().Set("WWW-Authenticate", "Bearer")
		s.answer(w, r, failure{status: http.StatusUnauthorized, code: "admin_token_required"})
		return
	}
	if _, err := fleet.VerifyAdmin(s.pub, s.revs.Load(), token, time.Now()); err != nil {
		s.log.Info("rollout status refused", "err", err)
		s.answer(w, r, failure{status: http.StatusUnauthorized, code: "admin_token_required"})
		return
	}
	if s.updates == nil {
		s.answer(w, r, failure{status: http.StatusNotFound, code: "updates_off"})
		return
	}
	st, err := s.updates.Status(r.Context())
	if err != nil {
		s.log.Warn("rollout status", "err", err)
		s.answer(w, r, failure{status: http.StatusServiceUnavailable, code: "unavailable", retryAfter: 5 * time.Second})
		return
	}
	out := RolloutStatus{
		Target: st.Rollout.Target, Percent: st.Rollout.Percent, Locations: st.Rollout.Locations, Canaries: st.Rollout.Canaries,
		HaltAfter: st.Rollout.HaltAfter, AllowDowngrade: st.Rollout.AllowDowngrade,
		Halted: st.Halted, Machines: map[string]int{}, Failed: st.Failed, FileError: st.LoadErr,
	}
	if out.HaltAfter == 0 {
		out.HaltAfter = updates.DefaultHaltAfter
	}
	for _, c := range st.Counts {
		out.Machines[c.State] = c.Machines
	}
	writeJSON(w, r, http.StatusOK, out)
}
