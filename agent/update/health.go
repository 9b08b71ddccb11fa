package update

import (
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"strings"
	"time"
)

// HealthCheck is one thing a newly started agent must find working: the
// queue opened, the printer link up, the tunnel connected. Check is asked
// again until it passes or the deadline comes.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// healthPoll is how often failing health checks are asked again.
const healthPoll = time.Second

// runHealth runs the health checks until all pass or HealthDeadline has
// passed, and writes health.json for the installer, which waits for it
// after an install (docs/updates.md, step 4). It runs at every start:
// after an ordinary restart the file is simply not read.
func (u *Updater) runHealth(ctx context.Context) {
	if len(u.opt.Health) == 0 {
		return
	}
	deadline := time.NewTimer(u.opt.HealthDeadline)
	defer deadline.Stop()
	tick := time.NewTicker(healthPoll)
	defer tick.Stop()
	results := make([]CheckResult, len(u.opt.Health))
	for {
		all := true
		for i, c := range u.opt.Health {
			if results[i].OK {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, healthPoll*5)
			err := c.Check(cctx)
			cancel()
			results[i] = CheckResult{Name: c.Name, OK: err == nil}
			if err != nil {
				results[i].Error = err.Error()
				all = false
			}
		}
		if all {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			u.writeHealth(results)
			return
		case <-tick.C:
		}
	}
	u.writeHealth(results)
}

func (u *Updater) writeHealth(results []CheckResult) {
	h := Health{Version: u.opt.Version, Healthy: true, Checks: results, Time: u.opt.Now().UTC()}
	var failed []string
	for _, r := range results {
		if !r.OK {
			h.Healthy = false
			failed = append(failed, r.Name+": "+r.Error)
		}
	}
	h.Reason = strings.Join(failed, "; ")
	if err := writeJSON(u.files.Health(), h); err != nil {
		u.log.Error("write health.json", "err", err)
	}
	if h.Healthy {
		u.log.Info("health checks passed", "version", h.Version)
	} else {
		u.log.Error("health checks failed", "version", h.Version, "failed", h.Reason)
	}
	// Operators see the checks of a start that follows an install of this
	// version; after an ordinary restart the dashboard's other lines say
	// what is down.
	var req Request
	afterInstall := false
	if _, err := readJSON(u.files.Request(), &req); err == nil && req.Version == u.opt.Version {
		afterInstall = true
	}
	u.set(func(s *Status) {
		if afterInstall {
			s.Health = &h
		}
	})
}

// readResult shows the installer's last result.json, if any.
func (u *Updater) readResult() {
	var r Result
	if _, err := readJSON(u.files.Result(), &r); err == nil {
		u.st.Result = &r
	}
}

// reportResult reports the installer's result.json to the relay, once:
// what was reported is remembered in reported.json (by its hash), so a
// restart does not report it again, and a report the relay did not take
// is sent again at the next question (ask).
func (u *Updater) reportResult(ctx context.Context, ask bool) {
	var r Result
	data, err := readJSON(u.files.Result(), &r)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		if msg := err.Error(); msg != u.tried {
			u.tried = msg
			u.log.Error("unreadable installer result", "err", err)
		}
		return
	}
	sum := sha256.Sum256(data)
	if !ask && u.tried == string(sum[:]) {
		return // tried and not taken: again at the next question
	}
	u.tried = string(sum[:])
	var done struct {
		SHA256 []byte `json:"sha256"`
	}
	if _, err := readJSON(u.files.path(reportedFile), &done); err == nil && string(done.SHA256) == string(sum[:]) {
		return
	}
	u.set(func(s *Status) { s.Result = &r })
	from := r.From
	if from == "" {
		var req Request
		if _, err := readJSON(u.files.Request(), &req); err == nil && req.Version == r.Version {
			from = req.From
		}
	}
	u.log.Info("installer's result", "version", r.Version, "state", r.State, "reason", r.Reason)
	rep := report{Version: r.Version, From: from, State: r.State, Reason: r.Reason}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = u.send(sctx, rep)
	cancel()
	if err != nil {
		if !errors.Is(err, errWait) {
			u.log.Warn("installer's result not taken by the relay: sending it again later", "err", err)
		}
		return
	}
	u.sent = rep
	done.SHA256 = sum[:]
	if err := writeJSON(u.files.path(reportedFile), done); err != nil {
		u.log.Error("remember the reported result", "err", err)
	}
	// The installer's job is over: a later offer may be prepared.
	if r.State == StateFailed || r.State == StateRolledBack {
		u.setState(r.State, r.Version, r.Reason)
	}
}
