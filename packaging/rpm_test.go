package packaging

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAgentRPM reads the agent's .rpm with rpm itself, then installs,
// upgrades and erases it inside a throwaway root (this machine is Debian:
// its own root is dpkg's), with scripts off, to see rpm keep the config.
func TestAgentRPM(t *testing.T) {
	slow(t)
	needTools(t, "rpm")
	v1 := only(t, buildPackages(t, "v1.0.0", "agent-rpm"), "casefleet-agent-1.0.0-1.*.rpm")
	v2 := only(t, buildPackages(t, "v1.0.1", "agent-rpm"), "casefleet-agent-1.0.1-1.*.rpm")

	t.Run("metadata", func(t *testing.T) {
		if got := run(t, "rpm", "-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}", v1); got != "casefleet-agent 1.0.0 1 x86_64" {
			t.Errorf("name, version, release, arch: %q", got)
		}
		if got := run(t, "rpm", "-K", "--nosignature", v1); !strings.Contains(got, "digests OK") {
			t.Errorf("rpm -K: %s", got)
		}
	})

	t.Run("files", func(t *testing.T) {
		// mode owner group flags path, one file a line; flags c: config,
		// n: noreplace (rpm keeps an edited file on upgrade).
		files := run(t, "rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]", v1)
		for _, want := range []string{
			"-rwxr-xr-x root root  /usr/bin/casefleet-agent",
			"-rw-r--r-- root root  /usr/lib/systemd/system/casefleet-agent.service",
			"-rw-r--r-- root root  /usr/lib/systemd/system/casefleet-agent-update.service",
			"-rw-r--r-- root root  /usr/lib/systemd/system/casefleet-agent-update.path",
			"-rw-r--r-- root root  /usr/lib/casefleet-agent/package-format",
			"-rw-r----- root casefleet cn /etc/casefleet/agent.yaml",
			"-rw-r--r-- root root cn /etc/default/casefleet-agent",
			"-rw-r--r-- root root  /usr/share/doc/casefleet-agent/technician-guide.md",
			"-rw-r--r-- root root  /usr/share/doc/casefleet-agent/operator-guide.md",
			"-rw-r--r-- root root  /usr/share/doc/casefleet-agent/agent-settings.md",
			"-rw-r--r-- root root  /usr/share/casefleet-agent/prometheus/casefleet.rules.yml",
			"-rw-r--r-- root root  /usr/share/casefleet-agent/grafana/casefleet-fleet.json",
		} {
			if !strings.Contains(files, want+"\n") {
				t.Errorf("missing %q in\n%s", want, files)
			}
		}
	})

	t.Run("scripts", func(t *testing.T) {
		scripts := run(t, "rpm", "-qp", "--scripts", v1)
		for _, want := range []string{
			"preinstall scriptlet", "useradd --system", // the user exists before the files land
			"postinstall scriptlet", "enable casefleet-agent.service",
			"enable casefleet-agent-update.path casefleet-agent-update.service", // updates
			"preuninstall scriptlet", "disable casefleet-agent.service",
			"postuninstall scriptlet", "try-restart casefleet-agent.service",
		} {
			if !strings.Contains(scripts, want) {
				t.Errorf("scripts lack %q:\n%s", want, scripts)
			}
		}
	})

	t.Run("install, upgrade and erase in a throwaway root", func(t *testing.T) {
		root := t.TempDir()
		rpmIn := func(args ...string) string {
			return run(t, "rpm", append([]string{"--root", root, "--noscripts", "--nodeps", "--nosignature"}, args...)...)
		}
		run(t, "rpm", "--root", root, "--initdb")
		rpmIn("-i", v1)
		if got := run(t, filepath.Join(root, "usr/bin/casefleet-agent"), "version"); got != "casefleet-agent v1.0.0\n" {
			t.Errorf("version prints %q", got)
		}
		config := filepath.Join(root, "etc/casefleet/agent.yaml")
		edited := []byte("machine:\n  code: CT0700026\n")
		if err := os.WriteFile(config, edited, 0o640); err != nil {
			t.Fatal(err)
		}

		rpmIn("-U", v2)
		if got, _ := os.ReadFile(config); !bytes.Equal(got, edited) {
			t.Errorf("the edited config did not survive the upgrade:\n%s", got)
		}
		if got := run(t, filepath.Join(root, "usr/bin/casefleet-agent"), "version"); got != "casefleet-agent v1.0.1\n" {
			t.Errorf("after the upgrade version prints %q", got)
		}
		// The agent updates with rpm; the installer's rollback is rpm -U
		// --oldpackage.
		if got, _ := os.ReadFile(filepath.Join(root, "usr/lib/casefleet-agent/package-format")); string(got) != "rpm" {
			t.Errorf("package-format says %q, want rpm", got)
		}
		rpmIn("-U", "--oldpackage", "--replacepkgs", v1)
		if got := run(t, filepath.Join(root, "usr/bin/casefleet-agent"), "version"); got != "casefleet-agent v1.0.0\n" {
			t.Errorf("after the rollback version prints %q", got)
		}
		rpmIn("-U", v2)

		rpmIn("-e", "casefleet-agent")
		if exists(filepath.Join(root, "usr/bin/casefleet-agent")) {
			t.Error("the binary is still there after erase")
		}
		if got, _ := os.ReadFile(config + ".rpmsave"); !bytes.Equal(got, edited) {
			t.Errorf("rpm did not keep the edited config as agent.yaml.rpmsave: %q", got)
		}
	})
}
