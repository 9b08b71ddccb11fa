package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"casefleet/shared/testenv"
)

// discover finds the three demo agents on the LAN: a simulator and three
// agent processes in a network namespace of the test's own, advertising
// on its loopback.
func TestDiscoverFindsTheThreeDemoAgents(t *testing.T) {
	if !testenv.InOwnNetns(t) {
		return
	}
	codes := []string{"CT0700026", "CT0700027", "CT0700046"}
	s := startSim(t, codes)
	for _, c := range codes {
		lan := testenv.FreeAddr(t)
		env := agentEnv(c, t.TempDir(), lan, s.URL, "tcp://"+s.mqttAddr(), "CASEFLEET_MACHINE_NAME=Kiosk "+c)
		startProc(t, "casefleet-agent "+c, env, "run")
		waitHTTP(t, "http://"+lan+"/healthz")
	}
	var found []struct {
		Code, Name, Location, Printer, URL string
	}
	testenv.Eventually(t, 30*time.Second, "discover lists the three agents", func() bool {
		out, code := runAgentCLI(t, nil, "discover", "--json", "--timeout", "2s", "--interfaces", "lo")
		if code != 0 {
			t.Fatalf("discover: exit %d: %s", code, out)
		}
		found = nil
		if err := json.Unmarshal([]byte(out), &found); err != nil {
			t.Fatalf("discover --json: %v: %s", err, out)
		}
		return len(found) == 3
	})
	for i, a := range found {
		if a.Code != codes[i] || a.Name != "Kiosk "+codes[i] || a.Location != "lab" || a.URL == "" {
			t.Errorf("agent %d: %+v", i, a)
		}
	}
	table, _ := runAgentCLI(t, nil, "discover", "--timeout", "2s", "--interfaces", "lo")
	for _, c := range codes {
		if !strings.Contains(table, c) {
			t.Errorf("the table lacks %s:\n%s", c, table)
		}
	}
	t.Log("\n" + table)
}
