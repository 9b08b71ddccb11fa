//go:build linux

package main

import (
	"slices"
	"testing"
)

func TestOnlyTheKioskSideIsStartedOnTheKiosksCPU(t *testing.T) {
	for _, c := range []struct {
		name     string
		place    placement
		wantPath string
		wantArgs []string
	}{
		{"anywhere", placement{}, "bin/casefleet-agent", []string{"run", "--log-level", "warn"}},
		{"pinned", placement{kiosk: "3", cloud: "0-2"}, "taskset", []string{"--cpu-list", "3", "bin/casefleet-agent", "run", "--log-level", "warn"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, args := c.place.onKiosk("bin/casefleet-agent", "run", "--log-level", "warn")
			if path != c.wantPath || !slices.Equal(args, c.wantArgs) {
				t.Errorf("onKiosk = %s %q, want %s %q", path, args, c.wantPath, c.wantArgs)
			}
		})
	}
}
