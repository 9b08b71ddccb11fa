package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"casefleet/agent/dashboard"
	"casefleet/agent/dispatch"
	"casefleet/agent/update"
)

// `casefleet-agent status` shows the agent's version and its update
// state: what the dashboard shows, in the same words.
func TestStatusShowsTheVersionAndTheUpdate(t *testing.T) {
	base := dashboard.State{
		ServerTime: time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC), Version: "v1.5.0",
		Machine: dispatch.Status{Code: "CT0700026", Name: "Mall 3F", Location: "mall-3f", Status: "online"},
	}
	tests := []struct {
		name   string
		update *update.Status
		want   []string
	}{
		{"no updater", nil, []string{"agent v1.5.0"}},
		{"off", &update.Status{Version: "v1.5.0", State: update.StateOff, Summary: "updates off: not installed from a package (no /usr/lib/casefleet-agent/package-format)"},
			[]string{"agent v1.5.0", "update  updates off: not installed from a package"}},
		{"waiting for the line", &update.Status{Version: "v1.5.0", State: update.StateReady, Target: "v1.6.0", Summary: "v1.6.0 downloaded and verified: waiting for an empty line: 2 order(s) in line"},
			[]string{"update  v1.6.0 downloaded and verified: waiting for an empty line: 2 order(s) in line"}},
		{"failed", &update.Status{Version: "v1.5.0", State: update.StateFailed, Target: "v1.6.0", Attention: true, Summary: "update to v1.6.0 FAILED, still on v1.5.0: release manifest signature does not match the release key"},
			[]string{"update  update to v1.6.0 FAILED, still on v1.5.0: release manifest signature does not match the release key"}},
		{"rolled back", &update.Status{Version: "v1.5.0", State: update.StateRolledBack, Target: "v1.6.0", Attention: true, Summary: "v1.6.0 ROLLED BACK, back on v1.5.0: health: tunnel: not connected to the relay"},
			[]string{"update  v1.6.0 ROLLED BACK, back on v1.5.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := base
			st.Update = tt.update
			var out bytes.Buffer
			printStatus(&out, st)
			text := regexp.MustCompile(`(?m)^update +`).ReplaceAllString(out.String(), "update  ")
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("status lacks %q:\n%s", w, out.String())
				}
			}
			if tt.update == nil && strings.Contains(text, "\nupdate ") {
				t.Errorf("an update line without an updater:\n%s", out.String())
			}
			// The long line leaves the rest of the table as it was.
			var plain bytes.Buffer
			printStatus(&plain, base)
			if rest := regexp.MustCompile(`(?m)^update .*\n`).ReplaceAllString(out.String(), ""); rest != plain.String() {
				t.Errorf("the update line changed the table:\n%s\nwithout it:\n%s", out.String(), plain.String())
			}
		})
	}
}
