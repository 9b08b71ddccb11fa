package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const (
	agentConfig  = "/etc/casefleet/agent.yaml"
	agentDefault = "/etc/default/casefleet-agent"
	agentData    = "/var/lib/casefleet"
	agentUnit    = "/usr/lib/systemd/system/casefleet-agent.service"
	agentWants   = "/etc/systemd/system/multi-user.target.wants/casefleet-agent.service"

	// Agent updates: the root installer's units, enabled (the path unit
	// watches for the agent's request; the service also runs at boot), its
	// own directory, and the package format the agent updates with.
	updatePath        = "/usr/lib/systemd/system/casefleet-agent-update.path"
	updateService     = "/usr/lib/systemd/system/casefleet-agent-update.service"
	updatePathWants   = "/etc/systemd/system/paths.target.wants/casefleet-agent-update.path"
	updateServiceWant = "/etc/systemd/system/multi-user.target.wants/casefleet-agent-update.service"
	updateWork        = "/var/lib/casefleet-update"
	packageFormat     = "/usr/lib/casefleet-agent/package-format"
)

// TestAgentDeb installs the agent's .deb on this machine, upgrades it,
// removes it and purges it, checking at each step what a Debian admin
// expects.
func TestAgentDeb(t *testing.T) {
	slow(t)
	needRoot(t)
	needTools(t, "dpkg", "dpkg-deb", "dpkg-query", "runuser")
	needCleanMachine(t, "casefleet-agent", agentConfig, agentData, updateWork)

	v1 := only(t, buildPackages(t, "v1.0.0", "agent-deb"), "casefleet-agent_1.0.0_*.deb")
	v2 := only(t, buildPackages(t, "v1.0.1", "agent-deb"), "casefleet-agent_1.0.1_*.deb")
	t.Cleanup(func() {
		purge(t, "casefleet-agent", agentConfig+"*", agentDefault+"*", agentData, updateWork, updatePathWants, updateServiceWant,
			"/var/lib/systemd/deb-systemd-helper-enabled/*casefleet-agent-update*")
	})

	run(t, "dpkg", "-i", v1)
	t.Run("install", func(t *testing.T) {
		checkFile(t, "/usr/bin/casefleet-agent", 0o755, "root", "root")
		checkFile(t, agentUnit, 0o644, "root", "root")
		checkFile(t, agentConfig, 0o640, "root", "casefleet") // secrets: not world-readable
		checkFile(t, agentDefault, 0o644, "root", "root")
		checkFile(t, agentData, 0o750|os.ModeDir, "casefleet", "casefleet")

		u, err := user.Lookup("casefleet")
		if err != nil {
			t.Fatalf("the service user: %v", err)
		}
		if uid, _ := strconv.Atoi(u.Uid); uid == 0 || uid >= 1000 {
			t.Errorf("casefleet has uid %s: want a system user", u.Uid)
		}
		if u.HomeDir != agentData {
			t.Errorf("casefleet's home is %s, want %s", u.HomeDir, agentData)
		}
		if !succeeds("runuser", "-u", "casefleet", "--", "cat", agentConfig) {
			t.Error("the service user cannot read its config")
		}
		if succeeds("runuser", "-u", "nobody", "--", "cat", agentConfig) {
			t.Error("any user can read the config, which holds secrets")
		}

		conffiles := run(t, "dpkg-query", "-W", "-f=${Conffiles}", "casefleet-agent")
		for _, f := range []string{agentConfig, agentDefault} {
			if !strings.Contains(conffiles, " "+f+" ") {
				t.Errorf("%s is not a conffile: %q", f, conffiles)
			}
		}

		for installed, src := range map[string]string{
			agentUnit:     "agent/casefleet-agent.service",
			updatePath:    "agent/casefleet-agent-update.path",
			updateService: "agent/casefleet-agent-update.service",
		} {
			checkFile(t, installed, 0o644, "root", "root")
			shipped, _ := os.ReadFile(src)
			if got, _ := os.ReadFile(installed); !bytes.Equal(got, shipped) {
				t.Errorf("the installed unit %s differs from %s", installed, src)
			}
		}
		if _, err := exec.LookPath("systemd-analyze"); err == nil {
			run(t, "systemd-analyze", "verify", agentUnit, updatePath, updateService)
		} else {
			t.Log("systemd-analyze is not installed: unit not verified")
		}
		// The guides the technician and the operators are pointed to: in
		// the package, and installed unless this dpkg is told to drop
		// documentation (slim container images are).
		contents := run(t, "dpkg-deb", "-c", v1)
		for _, doc := range []string{"technician-guide.md", "operator-guide.md", "agent-settings.md"} {
			installed := "/usr/share/doc/casefleet-agent/" + doc
			if !strings.Contains(contents, " ."+installed+"\n") {
				t.Errorf("the package lacks %s:\n%s", installed, contents)
			}
			if excludesDocs() {
				t.Logf("dpkg here is set to skip /usr/share/doc: %s not checked installed", doc)
				continue
			}
			checkFile(t, installed, 0o644, "root", "root")
			shipped, _ := os.ReadFile("../docs/" + doc)
			if got, _ := os.ReadFile(installed); !bytes.Equal(got, shipped) {
				t.Errorf("%s differs from docs/%s", installed, doc)
			}
		}
		checkShipped(t, map[string]string{ // the alert rules and dashboard, for a Prometheus on the LAN
			"/usr/share/casefleet-agent/prometheus/casefleet.rules.yml": "prometheus/casefleet.rules.yml",
			"/usr/share/casefleet-agent/grafana/casefleet-fleet.json":   "grafana/casefleet-fleet.json",
		})
		// The config as shipped, with the operator PIN's key explained.
		if got, _ := os.ReadFile(agentConfig); !bytes.Contains(got, []byte("\n  # operator_pin: \"\"\n")) {
			t.Errorf("the installed %s has no commented operator_pin:\n%s", agentConfig, got)
		}
		if !exists(agentWants) {
			t.Error("the service is not enabled")
		}
		for _, wants := range []string{updatePathWants, updateServiceWant} {
			if !exists(wants) {
				t.Errorf("%s is missing: the update unit is not enabled", wants)
			}
		}
		checkFile(t, packageFormat, 0o644, "root", "root")
		if got, _ := os.ReadFile(packageFormat); string(got) != "deb" {
			t.Errorf("%s says %q, want deb", packageFormat, got)
		}
		if got := run(t, "/usr/bin/casefleet-agent", "version"); got != "casefleet-agent v1.0.0\n" {
			t.Errorf("version prints %q", got)
		}
	})

	// A technician's edit, and the queue the agent keeps.
	edited := configure(t)
	if err := os.WriteFile(agentData+"/casefleet.db", []byte("queue"), 0o600); err != nil {
		t.Fatal(err)
	}

	run(t, "dpkg", "-i", v2)
	t.Run("upgrade keeps the config", func(t *testing.T) {
		if got, _ := os.ReadFile(agentConfig); !bytes.Equal(got, edited) {
			t.Errorf("the edited config did not survive the upgrade:\n%s", got)
		}
		for _, leftover := range []string{agentConfig + ".dpkg-new", agentConfig + ".dpkg-dist", agentConfig + ".dpkg-old"} {
			if exists(leftover) {
				t.Errorf("%s: dpkg asked about a config the package did not change", leftover)
			}
		}
		if got := run(t, "/usr/bin/casefleet-agent", "version"); got != "casefleet-agent v1.0.1\n" {
			t.Errorf("after the upgrade version prints %q", got)
		}
	})

	run(t, "dpkg", "-r", "casefleet-agent")
	t.Run("remove keeps config, data and user", func(t *testing.T) {
		for _, gone := range []string{"/usr/bin/casefleet-agent", agentUnit} {
			if exists(gone) {
				t.Errorf("%s is still there", gone)
			}
		}
		if got, _ := os.ReadFile(agentConfig); !bytes.Equal(got, edited) {
			t.Errorf("the config is gone or changed after remove:\n%s", got)
		}
		if !exists(agentData + "/casefleet.db") {
			t.Error("the queue is gone after remove")
		}
		if _, err := user.Lookup("casefleet"); err != nil {
			t.Error("the user is gone after remove")
		}
		if status := run(t, "dpkg-query", "-W", "-f=${Status}", "casefleet-agent"); status != "deinstall ok config-files" {
			t.Errorf("dpkg status %q", status)
		}
	})

	if err := os.MkdirAll(updateWork+"/kept", 0o700); err != nil { // as the update installer leaves it
		t.Fatal(err)
	}
	run(t, "dpkg", "-P", "casefleet-agent")
	t.Run("purge removes everything", func(t *testing.T) {
		for _, gone := range []string{agentConfig, agentDefault, agentData, agentWants, "/etc/systemd/system/casefleet-agent.service",
			updatePathWants, updateServiceWant, updateWork} {
			if exists(gone) {
				t.Errorf("%s is still there after purge", gone)
			}
		}
		if _, err := user.Lookup("casefleet"); err == nil {
			t.Error("the user is still there after purge")
		}
		if _, err := user.LookupGroup("casefleet"); err == nil {
			t.Error("the group is still there after purge")
		}
		if succeeds("dpkg-query", "-W", "casefleet-agent") {
			t.Error("dpkg still knows the package")
		}
	})
}

// configure gives the kiosk its machine code, as a technician would, and
// returns the config's new content.
func configure(t *testing.T) []byte {
	t.Helper()
	config, err := os.ReadFile(agentConfig)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(config, []byte(`code: ""`), []byte(`code: CT0700026`), 1)
	if bytes.Equal(edited, config) {
		t.Fatalf("the default config has no empty machine code to fill in:\n%s", config)
	}
	edited = append(edited, "# edited by the technician\n"...)
	if err := os.WriteFile(agentConfig, edited, 0o640); err != nil {
		t.Fatal(err)
	}
	return edited
}

// checkFile checks a path's type and permissions and its owner.
func checkFile(t *testing.T, path string, mode os.FileMode, owner, group string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if info.Mode() != mode {
		t.Errorf("%s has mode %v, want %v", path, info.Mode(), mode)
	}
	got := strings.Fields(run(t, "stat", "-c", "%U %G", path))
	if len(got) != 2 || got[0] != owner || got[1] != group {
		t.Errorf("%s belongs to %v, want %s:%s", path, got, owner, group)
	}
}

// excludesDocs reports whether dpkg is configured not to install
// documentation (path-exclude=/usr/share/doc/* in dpkg.cfg.d).
func excludesDocs() bool {
	files, _ := filepath.Glob("/etc/dpkg/dpkg.cfg.d/*")
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && regexp.MustCompile(`(?m)^path-exclude=/usr/share/doc/`).Match(b) {
			return true
		}
	}
	return false
}

// needCleanMachine refuses to run where the package, or what it leaves
// behind, is already present: the test purges it at the end and must not
// take someone's real installation with it.
func needCleanMachine(t *testing.T, pkg string, paths ...string) {
	t.Helper()
	status, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", pkg).Output()
	need(t, len(status) == 0, pkg+" is installed on this machine ("+string(status)+")",
		"the test installs and purges "+pkg+": run it on a machine without it (dpkg -P "+pkg+")")
	for _, p := range paths {
		need(t, !exists(p), p+" exists on this machine", "the test would delete it: run it on a machine without casefleet")
	}
	if pkg == "casefleet-agent" {
		_, err := user.Lookup("casefleet")
		need(t, err != nil, "the user casefleet exists on this machine", "the test would delete it: run it on a machine without casefleet")
	}
}

// purge leaves the machine as it was, whatever state the test stopped in:
// it purges pkg, then deletes what a failed purge may have left (the
// machine had none of it before the test, see needCleanMachine).
func purge(t *testing.T, pkg string, leftovers ...string) {
	if succeeds("dpkg-query", "-W", pkg) {
		if out, err := exec.Command("dpkg", "-P", pkg).CombinedOutput(); err != nil {
			t.Logf("cleanup: dpkg -P %s: %v\n%s", pkg, err, out)
			out, _ = exec.Command("dpkg", "-P", "--force-remove-reinstreq", "--force-depends", pkg).CombinedOutput()
			t.Logf("cleanup: forced purge: %s", out)
		}
	}
	script := `rm -rf ` + strings.Join(leftovers, " ") + `
rm -f /etc/systemd/system/` + pkg + `.service /etc/systemd/system/*.wants/` + pkg + `.service
rmdir --ignore-fail-on-non-empty /etc/casefleet 2>/dev/null || true`
	if pkg == "casefleet-agent" {
		script += `
getent passwd casefleet >/dev/null && userdel casefleet
getent group casefleet >/dev/null && groupdel casefleet
true`
	}
	if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
		t.Logf("cleanup: %v\n%s", err, out)
	}
}
