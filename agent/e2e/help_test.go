package e2e

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Every command's --help (and -h) is output a newcomer asked for: it exits
// 0 and prints to standard output, nothing to standard error.
func TestEveryCommandsHelpExitsZeroOnStandardOutput(t *testing.T) {
	buildRelay(t)
	agent := filepath.Join(binDir, "casefleet-agent")
	relay := filepath.Join(binDir, "casefleet-relay")
	sim := filepath.Join(binDir, "chitusim")

	for _, c := range []struct {
		bin  string
		args []string
		says string // a flag of the command, to show its own usage was printed
	}{
		{agent, []string{"--help"}, "discover"},
		{agent, []string{"run", "--help"}, "--config"},
		{agent, []string{"doctor", "--help"}, "--config"},
		{agent, []string{"status", "--help"}, "--config"},
		{agent, []string{"enroll", "--help"}, "--token"},
		{agent, []string{"discover", "--help"}, "--timeout"},
		{agent, []string{"discover", "-h"}, "--timeout"},
		{agent, []string{"update-install", "--help"}, "--release-pub"},
		{relay, []string{"--help"}, "keygen"},
		{relay, []string{"run", "--help"}, "--listen"},
		{relay, []string{"keygen", "--help"}, "--out"},
		{relay, []string{"issue", "--help"}, "--machine"},
		{relay, []string{"release-keygen", "--help"}, "--out"},
		{relay, []string{"rollout", "set", "--help"}, "--target"},
		{relay, []string{"rollout", "status", "--help"}, "--relay"},
		{relay, []string{"qr", "--help"}, "--machine"},
		{sim, []string{"--help"}, "-machines"},
		{sim, []string{"-h"}, "-machines"},
	} {
		name := filepath.Base(c.bin) + " " + strings.Join(c.args, " ")
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(c.bin, c.args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Errorf("%s: %v; standard error:\n%s", name, err, stderr.String())
			}
			if !strings.Contains(stdout.String(), c.says) {
				t.Errorf("%s: standard output lacks %q:\n%s", name, c.says, stdout.String())
			}
			if stderr.Len() > 0 {
				t.Errorf("%s wrote to standard error:\n%s", name, stderr.String())
			}
		})
	}
}
