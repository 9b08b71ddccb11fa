package packaging

import (
	"os/exec"
	"strings"
	"testing"
)

// A package built from a commit without a tag is a test build: `make
// package` (build.sh) says so, and how to give a release version, instead
// of silently versioning it 0.0.0+g<commit>.
func TestBuildWarnsWithoutAReleaseTag(t *testing.T) {
	slow(t)
	for _, tc := range []struct {
		version string
		warns   bool
		deb     string
	}{
		{"5df603d", true, "casefleet-agent_0.0.0+g5df603d_*.deb"},
		{"5df603d-dirty", true, "casefleet-agent_0.0.0+g5df603d.dirty_*.deb"},
		{"v1.0.0-3-g5df603d", false, "casefleet-agent_1.0.0+3.g5df603d_*.deb"},
	} {
		out := t.TempDir()
		cmd := exec.Command("./build.sh", "-o", out, "-v", tc.version, "agent-deb")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("build.sh -v %s: %v\n%s", tc.version, err, stderr.String())
		}
		only(t, out, tc.deb)
		said := stderr.String()
		warned := strings.Contains(said, "WARNING") && strings.Contains(said, "git tag v") && strings.Contains(said, "make package VERSION=v")
		if warned != tc.warns {
			t.Errorf("build.sh -v %s: warned %v, want %v:\n%s", tc.version, warned, tc.warns, said)
		}
	}
}
