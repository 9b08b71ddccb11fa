package update

import "fmt"

// summary is the status in one line for operators: the dashboard's and
// `casefleet-agent status`'s.
func (s Status) summary() string {
	var line string
	switch s.State {
	case StateOff:
		line = "updates off: " + s.Reason
	case "":
		line = "not asked the relay yet"
		if s.Reason != "" {
			line = "no answer from the relay"
		}
	case StateCurrent:
		line = "no update offered"
		if s.Checked != nil {
			line += " (asked the relay at " + s.Checked.Local().Format("15:04") + ")"
		}
	case StateDownloading:
		line = "downloading " + s.Target
		if s.Size > 0 {
			line += fmt.Sprintf(": %d%% of %s", s.Have*100/s.Size, sizeText(s.Size))
		}
	case StateReady:
		line = s.Target + " downloaded and verified"
	case StateInstalling:
		line = "installing " + s.Target
	case StateFailed:
		line = "update to " + s.Target + " FAILED, still on " + s.Version
	case StateRolledBack:
		line = s.Target + " ROLLED BACK, back on " + s.Version
	case StateHealthy:
		line = s.Target + " installed and healthy"
	default:
		line = s.State + " " + s.Target
	}
	if s.Reason != "" && s.State != StateOff {
		line += ": " + s.Reason
	}
	if r := s.Result; r != nil && s.State != StateRolledBack && s.State != StateFailed && s.State != StateInstalling {
		line += "; last update: " + r.Version + " " + r.State
		if r.Reason != "" && r.State != StateHealthy {
			line += " (" + r.Reason + ")"
		}
	}
	if h := s.Health; h != nil && !h.Healthy {
		line += "; this start's health checks FAILED: " + h.Reason
	}
	return line
}

// Problem reports whether the status needs an operator's eye: a failed
// update, a rollback (also the installer's last), failed health checks.
func (s Status) Problem() bool {
	return s.State == StateFailed || s.State == StateRolledBack || (s.Health != nil && !s.Health.Healthy) ||
		(s.Result != nil && (s.Result.State == StateFailed || s.Result.State == StateRolledBack))
}

func sizeText(n int64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%d MB", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%d kB", n/1e3)
	}
	return fmt.Sprintf("%d bytes", n)
}
