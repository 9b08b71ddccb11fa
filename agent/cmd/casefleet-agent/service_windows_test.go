//go:build windows

package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/windows/svc"
)

// execute runs an agentService's Execute as the service manager would and
// returns the states it reported, then what it returned.
func execute(t *testing.T, s *agentService, requests chan svc.ChangeRequest) ([]svc.State, bool, uint32) {
	t.Helper()
	status := make(chan svc.Status, 10)
	type result struct {
		specific bool
		code     uint32
	}
	done := make(chan result, 1)
	go func() {
		specific, code := s.Execute(nil, requests, status)
		done <- result{specific, code}
	}()
	var states []svc.State
	deadline := time.After(10 * time.Second)
	for {
		select {
		case st := <-status:
			states = append(states, st.State)
			if st.State == svc.Running && requests != nil {
				requests <- svc.ChangeRequest{Cmd: svc.Stop}
				requests = nil // ask once
			}
		case r := <-done:
			for len(status) > 0 {
				states = append(states, (<-status).State)
			}
			return states, r.specific, r.code
		case <-deadline:
			t.Fatal("Execute did not return")
		}
	}
}

func newService(t *testing.T, config string, run func(context.Context, []string) int) *agentService {
	return &agentService{
		args: []string{"run", "--config", config},
		run:  run,
		home: t.TempDir(),
		log:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func configured(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte("machine:\n  code: CT0700026\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServiceStopsTheAgentWhenAsked(t *testing.T) {
	s := newService(t, configured(t), func(ctx context.Context, _ []string) int {
		<-ctx.Done()
		return 0
	})
	states, specific, code := execute(t, s, make(chan svc.ChangeRequest, 1))
	if want := []svc.State{svc.StartPending, svc.Running, svc.StopPending}; !slices.Equal(states, want) {
		t.Errorf("states %v, want %v", states, want)
	}
	if specific || code != 0 {
		t.Errorf("returned %v, %d: want a clean stop", specific, code)
	}
}

func TestServiceReportsAFailedAgent(t *testing.T) {
	s := newService(t, configured(t), func(context.Context, []string) int { return 1 })
	_, specific, code := execute(t, s, nil)
	if !specific || code != 1 {
		t.Errorf("returned %v, %d: want service-specific error 1, so that recovery restarts it", specific, code)
	}
}

func TestServiceStopsQuietlyUntilConfigured(t *testing.T) {
	var ran atomic.Bool
	s := newService(t, filepath.Join(t.TempDir(), "agent.yaml"), func(context.Context, []string) int {
		ran.Store(true)
		return 1
	})
	_, specific, code := execute(t, s, nil)
	if ran.Load() || specific || code != 0 {
		t.Errorf("ran the agent: %v, returned %v, %d: want a clean stop without running it", ran.Load(), specific, code)
	}
}

func TestConfigFile(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--config", `C:\ProgramData\casefleet\agent.yaml`}, `C:\ProgramData\casefleet\agent.yaml`},
		{[]string{"run", `--config=C:\x.yaml`, "--log-level", "debug"}, `C:\x.yaml`},
		{[]string{"run"}, ""},
		{nil, ""},
	} {
		if got := configFile(tc.args); got != tc.want {
			t.Errorf("configFile(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}
