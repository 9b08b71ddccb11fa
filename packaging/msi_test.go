package packaging

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestAgentMSI reads the Windows installer's tables back with msiinfo and
// checks its Authenticode signatures with osslsigncode: there is no Windows
// here to install it on.
func TestAgentMSI(t *testing.T) {
	slow(t)
	needTools(t, "wixl", "msiinfo", "msiextract", "osslsigncode", "openssl")
	out := buildPackages(t, "v1.2.3-4-gabc1234", "agent-msi")
	msi := only(t, out, "casefleet-agent-1.2.3-4-gabc1234-x64.msi")
	testCA := filepath.Join(out, "test-signing", "ca.pem")

	t.Run("tables", func(t *testing.T) {
		tables := run(t, "msiinfo", "tables", msi)
		for _, want := range []string{"File", "Component", "Directory", "ServiceInstall", "ServiceControl", "Upgrade", "CreateFolder"} {
			if !strings.Contains("\n"+tables, "\n"+want+"\n") {
				t.Errorf("no %s table in %s", want, tables)
			}
		}

		props := msiRows(t, msi, "Property", "Property")
		for name, want := range map[string]string{
			"ProductName":    "casefleet agent",
			"ProductVersion": "1.2.3", // MSI versions are numeric: the tag's
			"UpgradeCode":    "{355536e1-3c62-4013-9e94-ffc46d21412a}",
			"ALLUSERS":       "1", // per machine
		} {
			if got := props[name]["Value"]; got != want {
				t.Errorf("property %s = %q, want %q", name, got, want)
			}
		}

		dirs := msiRows(t, msi, "Directory", "Directory")
		for dir, parent := range map[string]string{"INSTALLDIR": "ProgramFiles64Folder", "CONFIGDIR": "CommonAppDataFolder"} {
			if got := dirs[dir]; got["Directory_Parent"] != parent || got["DefaultDir"] != "casefleet" {
				t.Errorf("directory %s = %v, want casefleet under %s", dir, got, parent)
			}
		}

		files := msiRows(t, msi, "File", "FileName")
		for name, component := range map[string]string{
			"casefleet-agent.exe": "AgentService",
			"agent.example.yaml":  "AgentDocs",
			"technician-guide.md": "AgentDocs",
			"operator-guide.md":   "AgentDocs",
		} {
			if got := files[name]["Component_"]; got != component {
				t.Errorf("file %s is in component %q, want %q", name, got, component)
			}
		}
		if _, ok := files["agent.yaml"]; ok {
			t.Error("the MSI installs agent.yaml: uninstall and upgrades would then delete the technician's config")
		}

		components := msiRows(t, msi, "Component", "Component")
		if got := components["AgentService"]; got["Directory_"] != "INSTALLDIR" || got["Attributes"] != "256" {
			t.Errorf("component AgentService = %v, want a 64-bit component in INSTALLDIR", got)
		}

		svc := msiRows(t, msi, "ServiceInstall", "Name")["casefleet-agent"]
		for col, want := range map[string]string{
			"ServiceType": "16", // its own process
			"StartType":   "2",  // automatic
			"StartName":   "LocalSystem",
			"Arguments":   `run --config "[CONFIGDIR]agent.yaml"`,
			"Component_":  "AgentService",
		} {
			if svc[col] != want {
				t.Errorf("service %s = %q, want %q", col, svc[col], want)
			}
		}

		controls := msiRows(t, msi, "ServiceControl", "ServiceControl")
		// Events: 0x1 start on install, 0x2 stop on install, 0x20 stop on
		// uninstall, 0x80 delete on uninstall.
		if got := controls["AgentServiceStop"]; got["Name"] != "casefleet-agent" || got["Event"] != "162" || got["Wait"] != "1" {
			t.Errorf("stop control = %v: want stop on install and uninstall, delete on uninstall, waiting", got)
		}
		if got := controls["AgentServiceStart"]; got["Name"] != "casefleet-agent" || got["Event"] != "1" || got["Wait"] != "0" {
			t.Errorf("start control = %v: want start on install, not waiting", got)
		}

		sequence := msiRows(t, msi, "InstallExecuteSequence", "Action")
		for _, action := range []string{"FindRelatedProducts", "RemoveExistingProducts", "InstallServices", "StartServices", "StopServices", "DeleteServices"} {
			if _, ok := sequence[action]; !ok {
				t.Errorf("the install sequence lacks %s", action)
			}
		}

		// An update's rollback installs the previous MSI over the newer
		// one: every other version of the agent is found and removed
		// (VersionMin 0.0.0 inclusive, no VersionMax, not detect-only),
		// before the files are copied, and nothing blocks a downgrade.
		upgrades := msiRows(t, msi, "Upgrade", "ActionProperty")
		if len(upgrades) != 1 {
			t.Errorf("Upgrade rows %v: want one, removing every version", upgrades)
		}
		if got := upgrades["WIX_UPGRADE_DETECTED"]; got["UpgradeCode"] != "{355536E1-3C62-4013-9E94-FFC46D21412A}" ||
			got["VersionMin"] != "0.0.0" || got["VersionMax"] != "" || got["Attributes"] != "256" {
			t.Errorf("upgrade row %v: want every version of the agent's UpgradeCode (min 0.0.0 inclusive: attributes 256, no max)", got)
		}
		if !strings.Contains(props["SecureCustomProperties"]["Value"], "WIX_UPGRADE_DETECTED") {
			t.Errorf("SecureCustomProperties %q lacks WIX_UPGRADE_DETECTED: a per-machine install would not see it", props["SecureCustomProperties"]["Value"])
		}
		seq := func(action string) int {
			n, err := strconv.Atoi(sequence[action]["Sequence"])
			if err != nil {
				t.Errorf("%s: sequence %v", action, sequence[action])
			}
			return n
		}
		if !(seq("InstallValidate") < seq("RemoveExistingProducts") && seq("RemoveExistingProducts") < seq("InstallInitialize")) {
			t.Errorf("RemoveExistingProducts at %d: want between InstallValidate (%d) and InstallInitialize (%d)",
				seq("RemoveExistingProducts"), seq("InstallValidate"), seq("InstallInitialize"))
		}
		if conds := msiRows(t, msi, "LaunchCondition", "Condition"); len(conds) > 0 {
			t.Errorf("launch conditions %v: a downgrade must not be blocked", conds)
		}
	})

	t.Run("signatures", func(t *testing.T) {
		run(t, "osslsigncode", "verify", "-CAfile", testCA, "-in", msi)
		// The check means something only if a signature from elsewhere fails it.
		if succeeds("osslsigncode", "verify", "-CAfile", "/etc/ssl/certs/ca-certificates.crt", "-in", msi) {
			t.Error("the MSI verifies against the public CAs too: the test certificate check proves nothing")
		}

		dir := t.TempDir()
		run(t, "msiextract", "-C", dir, msi)
		exe := filepath.Join(dir, "casefleet", "casefleet-agent.exe")
		run(t, "osslsigncode", "verify", "-CAfile", testCA, "-in", exe)
		body, err := os.ReadFile(exe)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(body, []byte("MZ")) {
			t.Error("casefleet-agent.exe is not a Windows program")
		}
		if !bytes.Contains(body, []byte("v1.2.3-4-gabc1234")) {
			t.Error("casefleet-agent.exe does not carry its version")
		}
	})
}

// msiRows reads table from msi into rows keyed by the key column, each row
// a map of column to value.
func msiRows(t *testing.T, msi, table, key string) map[string]map[string]string {
	t.Helper()
	// msiinfo export: column names, column types, table name and key
	// columns, then one tab-separated line a row.
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(run(t, "msiinfo", "export", msi, table), "\r", ""), "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("table %s: %q", table, lines)
	}
	columns := strings.Split(lines[0], "\t")
	rows := map[string]map[string]string{}
	for _, line := range lines[3:] {
		values := strings.Split(line, "\t")
		row := map[string]string{}
		for i, col := range columns {
			if i < len(values) {
				row[col] = values[i]
			}
		}
		rows[row[key]] = row
	}
	return rows
}
