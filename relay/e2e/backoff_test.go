package e2e

import (
	"errors"
	"testing"
	"time"

	"casefleet/relay/relaytest"
	"casefleet/shared/testenv"
	"casefleet/shared/tunnel"
)

// TestAgentBackSoonAfterEveryRelayRestart kills the relay (SIGKILL) again
// and again, each time bringing it back once the agent has failed to reach
// it: with the agent's default reconnection delays, the kiosk is back
// within 2 s of every restart, not later and later as its backoff grows.
func TestAgentBackSoonAfterEveryRelayRestart(t *testing.T) {
	const (
		restarts = 6
		promise  = 2 * time.Second
	)
	f := relaytest.NewFleet(t)
	relay := startRelayProc(t, f, testenv.FreeAddr(t))
	agent := relaytest.StartAgent(t, relaytest.AgentOptions{
		RelayURL: relay.URL(), Code: "CT0700026", Token: f.Token(t, "CT0700026", "mall-3f"),
		MinBackoff: tunnel.DefaultMinBackoff, MaxBackoff: tunnel.DefaultMaxBackoff,
	})
	agent.WaitState(t, "connected", relaytest.Connected)

	for round := range restarts {
		relay.Kill()
		agent.WaitState(t, "told the relay is gone", func(s tunnel.State) bool { return !s.Connected })
		agent.WaitState(t, "failing to reach the relay", func(s tunnel.State) bool {
			return !s.Connected && s.Err != nil && !errors.Is(s.Err, tunnel.ErrClosed)
		})
		started := time.Now()
		relay.restart(t)
		agent.WaitState(t, "connected again", relaytest.Connected)
		back := time.Since(started)
		t.Logf("restart %d: agent back %v after the relay started", round+1, back.Round(time.Millisecond))
		if back > promise {
			t.Errorf("restart %d: the agent took %v to come back, want at most %v", round+1, back.Round(time.Millisecond), promise)
		}
	}
}
