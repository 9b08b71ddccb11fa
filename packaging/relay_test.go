package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const (
	relayEnv  = "/etc/casefleet/relay.env"
	relayUnit = "/usr/lib/systemd/system/casefleet-relay.service"
)

// TestRelayDeb installs the relay's .deb on this machine, then removes and
// purges it.
func TestRelayDeb(t *testing.T) {
	slow(t)
	needRoot(t)
	needTools(t, "dpkg", "dpkg-query")
	needCleanMachine(t, "casefleet-relay", relayEnv)

	deb := only(t, buildPackages(t, "v1.0.0", "relay-deb"), "casefleet-relay_1.0.0_*.deb")
	t.Cleanup(func() { purge(t, "casefleet-relay", relayEnv+"*") })

	run(t, "dpkg", "-i", deb)
	t.Run("install", func(t *testing.T) {
		checkFile(t, "/usr/bin/casefleet-relay", 0o755, "root", "root")
		checkFile(t, relayUnit, 0o644, "root", "root")
		checkFile(t, relayEnv, 0o640, "root", "root") // may hold a Redis password
		if conffiles := run(t, "dpkg-query", "-W", "-f=${Conffiles}", "casefleet-relay"); !strings.Contains(conffiles, " "+relayEnv+" ") {
			t.Errorf("%s is not a conffile: %q", relayEnv, conffiles)
		}
		if _, err := exec.LookPath("systemd-analyze"); err == nil {
			run(t, "systemd-analyze", "verify", relayUnit)
		}
		if got := run(t, "/usr/bin/casefleet-relay", "version"); !strings.Contains(got, "v1.0.0") {
			t.Errorf("version prints %q", got)
		}
		checkShipped(t, map[string]string{ // the fleet's alert rules and dashboard, as in the repository
			"/usr/share/casefleet-relay/prometheus/casefleet.rules.yml": "prometheus/casefleet.rules.yml",
			"/usr/share/casefleet-relay/grafana/casefleet-fleet.json":   "grafana/casefleet-fleet.json",
		})
		contents := run(t, "dpkg-deb", "-c", deb)
		for _, doc := range []string{"relay.md", "fleet.md"} {
			if !strings.Contains(contents, " ./usr/share/doc/casefleet-relay/"+doc+"\n") {
				t.Errorf("the package lacks /usr/share/doc/casefleet-relay/%s:\n%s", doc, contents)
			}
		}
	})

	env, err := os.ReadFile(relayEnv)
	if err != nil {
		t.Fatal(err)
	}
	edited := append(env, "CASEFLEET_RELAY_PUBLIC_URL=https://relay.example.com\n"...)
	if err := os.WriteFile(relayEnv, edited, 0o640); err != nil {
		t.Fatal(err)
	}

	run(t, "dpkg", "-r", "casefleet-relay")
	t.Run("remove keeps the settings", func(t *testing.T) {
		if exists("/usr/bin/casefleet-relay") {
			t.Error("the binary is still there")
		}
		if got, _ := os.ReadFile(relayEnv); !bytes.Equal(got, edited) {
			t.Errorf("relay.env is gone or changed after remove:\n%s", got)
		}
	})

	run(t, "dpkg", "-P", "casefleet-relay")
	t.Run("purge removes them", func(t *testing.T) {
		for _, gone := range []string{relayEnv, "/etc/systemd/system/casefleet-relay.service", "/etc/systemd/system/multi-user.target.wants/casefleet-relay.service"} {
			if exists(gone) {
				t.Errorf("%s is still there after purge", gone)
			}
		}
	})
}

// checkShipped checks that each installed file (root's, 0644) is the
// repository's file (relative to packaging/).
func checkShipped(t *testing.T, files map[string]string) {
	t.Helper()
	for installed, src := range files {
		checkFile(t, installed, 0o644, "root", "root")
		want, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(installed); !bytes.Equal(got, want) {
			t.Errorf("%s differs from packaging/%s", installed, src)
		}
	}
}
