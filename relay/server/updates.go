package server

import (
	"context"
	"net/http"
	"strings"
	"sync"
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

// agentCheckPath is where an agent takes the relay's word that the
// rollout changed (agent/update.CheckPath).
const agentCheckPath = "/relay/v1/update/check"

// nudgeAgents tells the agents on this relay's tunnels that the rollout
// changed, so that they ask for their target now instead of at their
// next question (update.check_interval, 5 minutes). A few at a time; an
// agent of an earlier version answers 404 and asks at its own pace.
func (s *Server) nudgeAgents() {
	tunnels := s.table.All()
	sem := make(chan struct{}, statusConcurrency)
	var wg sync.WaitGroup
	for _, t := range tunnels {
		if !t.Up() {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://agent"+agentCheckPath, nil)
			if err != nil {
				return
			}
			req.Close = true // no idle stream left per tunnel
			resp, err := t.Transport.RoundTrip(req)
			if err != nil {
				s.log.Debug("agent not told of the new rollout", "machine", t.Machine(), "err", err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	s.log.Info("agents told the rollout changed", "tunnels", len(tunnels))
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
