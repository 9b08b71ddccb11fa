package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"casefleet/shared/testenv"
)

// Two agents on one LAN set up with the same machine code: discover shows
// both, flagged, and says what to fix. Agent processes in a network
// namespace of the test's own, advertising on its loopback.
func TestDiscoverShowsAndFlagsTwoAgentsWithOneMachineCode(t *testing.T) {
	if !testenv.InOwnNetns(t) {
		return
	}
	s := startSim(t, []string{code})
	var lans []string
	for range 2 {
		lan := testenv.FreeAddr(t)
		startProc(t, "casefleet-agent "+lan, agentEnv(code, t.TempDir(), lan, s.URL, "tcp://"+s.mqttAddr()), "run")
		waitHTTP(t, "http://"+lan+"/healthz")
		lans = append(lans, lan)
	}
	var found []struct {
		Code      string
		URL       string
		Duplicate bool
	}
	testenv.Eventually(t, 30*time.Second, "discover lists both agents", func() bool {
		out, exit := runAgentCLI(t, nil, "discover", "--json", "--timeout", "2s", "--interfaces", "lo")
		if exit != 0 {
			t.Fatalf("discover: exit %d: %s", exit, out)
		}
		found = nil
		if err := json.Unmarshal([]byte(out), &found); err != nil {
			t.Fatalf("discover --json: %v: %s", err, out)
		}
		return len(found) == 2
	})
	urls := map[string]bool{}
	for _, a := range found {
		if a.Code != code || !a.Duplicate {
			t.Errorf("%+v: want %s flagged duplicate", a, code)
		}
		urls[a.URL] = true
	}
	for _, lan := range lans {
		if !urls["http://"+lan] {
			t.Errorf("the agent at %s is not listed: %+v", lan, found)
		}
	}
	table, _ := runAgentCLI(t, nil, "discover", "--timeout", "2s", "--interfaces", "lo")
	for _, want := range []string{code + " (DUPLICATE)", lans[0], lans[1], "Warning: machine code " + code + " is claimed by 2 agents"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
	t.Log("\n" + table)
}
