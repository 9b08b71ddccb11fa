package api

import (
	"net/http"
	"sort"
	"time"

	"casefleet/agent/queue"
	"casefleet/shared/summary"
)

// maxSummaryScan bounds how many finished orders a summary reads back to
// count the last day's failures.
const maxSummaryScan = 1000

// SummaryHandler answers GET summary.Path with the kiosk's summary for the
// relay's fleet page. Mount it on the tunnel's handler only: on the LAN,
// the dashboard is the operator's view.
func (s *Server) SummaryHandler(version string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, s.log, newError(http.StatusMethodNotAllowed, "method_not_allowed", "GET only."))
			return
		}
		sum, err := s.Summary(version, time.Now())
		if err != nil {
			writeError(w, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, sum)
	})
}

// Summary is the kiosk now: the machine's status, its line, ink, the
// order at the printer, and the failures of the last day with their
// reasons.
func (s *Server) Summary(version string, now time.Time) (summary.Summary, error) {
	st, err := s.opt.Machine.Status()
	if err != nil {
		return summary.Summary{}, err
	}
	p := s.publicStatus(st)
	out := summary.Summary{
		Code: st.Code, Name: st.Name, Location: st.Location, Version: version,
		Status: st.Status, Paused: st.Paused,
		QueueLength: p.QueueLength, QueueCapacity: p.QueueCapacity, Full: p.Full, WaitSeconds: p.EstimatedWaitSeconds,
		Ink:         summary.Ink{Cyan: st.InkLevels.Cyan, Magenta: st.InkLevels.Magenta, Yellow: st.InkLevels.Yellow, Black: st.InkLevels.Black},
		InkLow:      st.InkLevels.LowColours(),
		LastContact: st.LastContact, LastError: st.LastError,
		At: now.UTC(),
	}
	if o, ok, err := s.opt.Queue.Active(); err != nil {
		return summary.Summary{}, err
	} else if ok {
		out.Current = &summary.Order{ID: o.ID, Stage: string(o.Stage), PickupCode: o.PickupCode, Since: o.SentAt}
	}
	recent, err := s.opt.Queue.Recent(maxSummaryScan)
	if err != nil {
		return summary.Summary{}, err
	}
	out.Failures, out.FailureReasons = failures(recent, now.Add(-summary.FailureWindow))
	return out, nil
}

// failures counts the orders of recent (newest first) that failed since,
// and their reasons, most frequent first (ties by reason).
func failures(recent []queue.Order, since time.Time) (int, []summary.Reason) {
	n := 0
	by := map[string]int{}
	for _, o := range recent {
		at := o.UpdatedAt
		if o.CompletedAt != nil {
			at = *o.CompletedAt
		}
		if at.Before(since) {
			break // the finished log is in the order they finished
		}
		if o.Status != queue.StatusFailed {
			continue
		}
		n++
		reason := o.FailureReason
		if reason == "" {
			reason = "unknown"
		}
		by[reason]++
	}
	reasons := make([]summary.Reason, 0, len(by))
	for r, c := range by {
		reasons = append(reasons, summary.Reason{Reason: r, Count: c})
	}
	sort.Slice(reasons, func(i, j int) bool {
		if reasons[i].Count != reasons[j].Count {
			return reasons[i].Count > reasons[j].Count
		}
		return reasons[i].Reason < reasons[j].Reason
	})
	if len(reasons) > summary.MaxReasons {
		reasons = reasons[:summary.MaxReasons]
	}
	if len(reasons) == 0 {
		reasons = nil
	}
	return n, reasons
}
