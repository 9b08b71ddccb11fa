package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"casefleet/agent/daemon"
	"casefleet/agent/queue"
	"casefleet/shared/testenv"
)

func runAgentCLI(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "casefleet-agent"), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func TestVersion(t *testing.T) {
	out, code := runAgentCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "casefleet-agent ") {
		t.Fatalf("version: exit %d, %q", code, out)
	}
}

func TestUnknownCommandShowsUsage(t *testing.T) {
	out, code := runAgentCLI(t, nil, "frobnicate")
	if code != 2 || !strings.Contains(out, "Usage:") {
		t.Fatalf("exit %d, %q", code, out)
	}
}

// doctor passes on a kiosk that is set up right, and names what to fix on
// one that is not.
func TestDoctor(t *testing.T) {
	s := startSim(t, []string{code})
	good := agentEnv(code, t.TempDir(), testenv.FreeAddr(t), s.URL, "tcp://"+s.mqttAddr())
	out, exit := runAgentCLI(t, good, "doctor")
	if exit != 0 || !strings.Contains(out, "All checks passed") || !strings.Contains(out, "online") {
		t.Fatalf("doctor on a good setup: exit %d\n%s", exit, out)
	}

	// An operator left the queue paused: doctor says so (with the agent
	// stopped, it reads the store).
	dataDir := t.TempDir()
	pauseQueue(t, dataDir)
	paused := agentEnv(code, dataDir, testenv.FreeAddr(t), s.URL, "tcp://"+s.mqttAddr())
	if out, exit := runAgentCLI(t, paused, "doctor"); exit != 0 || !strings.Contains(out, "queue is PAUSED") {
		t.Errorf("doctor on a kiosk left paused: exit %d\n%s", exit, out)
	}

	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"wrong app secret", []string{"CASEFLEET_CHITU_APP_SECRET=wrong"}, []string{"[FAIL] open API", "fix:", "app_secret"}},
		{"broker unreachable", []string{"CASEFLEET_CHITU_MQTT_URL=tcp://" + testenv.FreeAddr(t)}, []string{"[FAIL] MQTT", "fix:", "chitu.mqtt_url"}},
		{"bad machine code", []string{"CASEFLEET_MACHINE_CODE=ct-1"}, []string{"[FAIL] config", "machine.code"}},
		{"missing config file", []string{"CASEFLEET_CONFIG=/nonexistent/agent.yaml"}, []string{"[FAIL] config", "does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append(append([]string{}, good...), tt.env...)
			out, exit := runAgentCLI(t, env, "doctor")
			if exit != 1 {
				t.Fatalf("exit %d, want 1\n%s", exit, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Fatalf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// run refuses a broken configuration with the key to fix, before doing
// anything.
func TestRunRefusesABadConfig(t *testing.T) {
	out, exit := runAgentCLI(t, []string{"CASEFLEET_MACHINE_CODE=CT0700026", "CASEFLEET_DATA_DIR=relative"}, "run")
	if exit != 1 || !strings.Contains(out, "data_dir") || !strings.Contains(out, "chitu.app_id") {
		t.Fatalf("exit %d\n%s", exit, out)
	}
}

// pauseQueue makes the agent's store in dataDir with the queue paused, as
// an operator leaves it.
func pauseQueue(t *testing.T, dataDir string) {
	t.Helper()
	db, err := daemon.OpenDB(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := queue.Open(db, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.SetPaused(true); err != nil {
		t.Fatal(err)
	}
}
