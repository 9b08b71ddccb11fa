package installer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"casefleet/shared/release"
)

// On Windows the installer runs msiexec from System32 on the verified MSI,
// quiet, without restarting the PC, logging verbosely. (msiexec itself
// only runs on Windows; here the command line is built and checked.)
func TestMSICommand(t *testing.T) {
	got, err := MSICommand(`C:\Windows\System32\msiexec.exe`, `C:\ProgramData\casefleet\data\update-install\new\casefleet-agent-1.6.0-x64.msi`, `C:\ProgramData\casefleet\data\update\msiexec-install.log`)
	want := []string{`C:\Windows\System32\msiexec.exe`, "/i", `C:\ProgramData\casefleet\data\update-install\new\casefleet-agent-1.6.0-x64.msi`, "/qn", "/norestart", "/l*v", `C:\ProgramData\casefleet\data\update\msiexec-install.log`}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("MSICommand = %q, %v\nwant %q", got, err, want)
	}
	t.Setenv("SystemRoot", `D:\Win\`)
	if got, _ := MSICommand("", `D:\u\a.MSI`, `\\server\share\a.log`); got == nil || got[0] != `D:\Win\System32\msiexec.exe` {
		t.Errorf("msiexec from SystemRoot: %q", got)
	}
	t.Setenv("SystemRoot", "")
	if got, _ := MSICommand("", `D:\u\a.msi`, `D:\u\a.log`); got == nil || got[0] != `C:\Windows\System32\msiexec.exe` {
		t.Errorf("default msiexec: %q", got)
	}
	for _, bad := range [][3]string{
		{`C:\Windows\System32\msiexec.exe`, `update\a.msi`, `C:\u\a.log`},         // relative package
		{`C:\Windows\System32\msiexec.exe`, `C:\u\a.msi`, `a.log`},                // relative log
		{`C:\Windows\System32\msiexec.exe`, `C:\u\a.exe`, `C:\u\a.log`},           // not an MSI
		{`C:\Windows\System32\msiexec.exe`, `C:\u\a" /quiet x.msi`, `C:\u\a.log`}, // a quote would end the argument
		{`C:\Windows\System32\msiexec.exe`, "C:\\u\\a\n.msi", `C:\u\a.log`},
		{`msiexec.exe`, `C:\u\a.msi`, `C:\u\a.log`}, // found on PATH
		{`C:msiexec.exe`, `C:\u\a.msi`, `C:\u\a.log`},
	} {
		if got, err := MSICommand(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("MSICommand(%q) = %q, want a refusal", bad, got)
		}
	}
}

// msiKiosk is a Windows kiosk as the installer sees it, with stand-ins:
// msiexec "installs" an MSI by recording the version written in it, and
// the installed casefleet-agent.exe's `version` says that version. The
// stand-in msiexec also plays the new agent: it writes health.json for
// the versions named healthy.
type msiKiosk struct {
	*fixture
	state   string // installed (the version) and calls (msiexec's arguments)
	msiexec string
	agent   string
	pub     string // release.pub
}

// newMSIKiosk: a kiosk on v1.0.0. healthy names the versions that report
// healthy once installed, fail those whose install fails half way (no
// executable left), failClean those Windows Installer undoes by itself.
func newMSIKiosk(t *testing.T, healthy, fail, failClean string) *msiKiosk {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the stand-ins are shell scripts")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("the MSI is windows-amd64's; --format msi here is windows-" + runtime.GOARCH + "-msi")
	}
	f := newFixture(t)
	f.platform = release.WindowsAMD64MSI
	os.RemoveAll(filepath.Join(f.dir, InstalledDir))
	_, manifest := f.release(filepath.Join(f.dir, InstalledDir), "1.0.0")
	if err := os.Rename(manifest, filepath.Join(f.dir, InstalledDir, KeptManifest)); err != nil {
		t.Fatal(err)
	}
	k := &msiKiosk{fixture: f, state: t.TempDir()}
	keys := t.TempDir()
	if err := release.WriteKeyPair(keys, f.in.ReleaseKey, f.priv); err != nil {
		t.Fatal(err)
	}
	k.pub = filepath.Join(keys, release.PublicKeyFile)
	k.msiexec = filepath.Join(k.state, "msiexec")
	k.agent = filepath.Join(k.state, "casefleet-agent")
	msiexec := fmt.Sprintf(`#!/bin/sh
echo "$*" >>'%[1]s/calls'
[ $# = 6 ] && [ "$1" = /i ] && [ "$3 $4 $5" = "/qn /norestart /l*v" ] || exit 1639
v=v$(head -n 1 "$2" | sed 's/^version=//')
echo "installing $v" >"$6"
case " %[3]s " in *" $v "*) exit 1603;; esac
case " %[4]s " in *" $v "*) rm -f '%[1]s/installed'; exit 1603;; esac
echo "$v" >'%[1]s/installed'
case " %[5]s " in *" $v "*) printf '{"version":"%%s","healthy":true}' "$v" >'%[2]s/.health' && mv '%[2]s/.health' '%[2]s/health.json';; esac
exit 0
`, k.state, f.dir, failClean, fail, healthy)
	agent := fmt.Sprintf(`#!/bin/sh
[ "$1" = version ] || exit 2
[ -s '%[1]s/installed' ] || { echo 'casefleet-agent.exe: not found' >&2; exit 1; }
echo "casefleet-agent $(cat '%[1]s/installed')"
`, k.state)
	for path, body := range map[string]string{k.msiexec: msiexec, k.agent: agent, filepath.Join(k.state, "installed"): "v1.0.0\n"} {
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// run is `casefleet-agent update-install --format msi`, as the Windows
// service starts it.
func (k *msiKiosk) run() {
	k.t.Helper()
	var out bytes.Buffer
	code := Command(k.t.Context(), []string{"--format", "msi", "--dir", k.dir, "--work", k.in.Work, "--release-pub", k.pub,
		"--msiexec", k.msiexec, "--agent-exe", k.agent}, &out, &lockedWriter{w: k.logs})
	if code != 0 {
		k.t.Fatalf("update-install exited %d:\n%s%s", code, out.String(), k.logs)
	}
}

func (k *msiKiosk) installed() string {
	b, _ := os.ReadFile(filepath.Join(k.state, "installed"))
	return strings.TrimSpace(string(b))
}

// calls: msiexec's runs, each as "install VERSION" (the new package, its
// log msiexec-install.log) or "reinstall VERSION" (the kept one).
func (k *msiKiosk) calls() []string {
	b, _ := os.ReadFile(filepath.Join(k.state, "calls"))
	var calls []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		switch {
		case line == "":
		case line == fmt.Sprintf("/i %s /qn /norestart /l*v %s", filepath.Join(k.in.Work, "new", "casefleet-agent-1.1.0-x64.msi"), filepath.Join(k.dir, "msiexec-install.log")):
			calls = append(calls, "install 1.1.0")
		case line == fmt.Sprintf("/i %s /qn /norestart /l*v %s", filepath.Join(k.in.Work, "kept", "casefleet-agent-1.0.0-x64.msi"), filepath.Join(k.dir, "msiexec-reinstall.log")):
			calls = append(calls, "reinstall 1.0.0")
		default:
			calls = append(calls, "unexpected: "+line)
		}
	}
	return calls
}

// The whole job with --format msi: install, the new agent's health, the
// rollback to the kept MSI, result.json.
func TestMSIUpdate(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		healthy, fail, failClean string
		deadline                 int
		state, installed         string
		says, calls              []string
	}{
		{name: "healthy", healthy: "v1.1.0", deadline: 30, state: Healthy, installed: "v1.1.0",
			calls: []string{"install 1.1.0"}},
		{name: "never healthy", deadline: 1, state: RolledBack, installed: "v1.0.0",
			says:  []string{"v1.1.0 did not report healthy within 1s", "v1.0.0 reinstalled"},
			calls: []string{"install 1.1.0", "reinstall 1.0.0"}},
		{name: "msiexec fails half way", fail: "v1.1.0", deadline: 30, state: Failed, installed: "v1.0.0",
			says:  []string{"v1.1.0 did not install", "exit status", "msiexec-install.log", "v1.0.0 reinstalled"},
			calls: []string{"install 1.1.0", "reinstall 1.0.0"}},
		{name: "msiexec fails and undoes itself", failClean: "v1.1.0", deadline: 30, state: Failed, installed: "v1.0.0",
			says:  []string{"v1.1.0 did not install", "exit status", "v1.0.0 is still installed"},
			calls: []string{"install 1.1.0"}},
		{name: "the rollback fails too", fail: "v1.1.0 v1.0.0", deadline: 30, state: Failed, installed: "",
			says:  []string{"v1.1.0 did not install", "the rollback to v1.0.0 failed too", "msiexec-reinstall.log"},
			calls: []string{"install 1.1.0", "reinstall 1.0.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newMSIKiosk(t, tc.healthy, tc.fail, tc.failClean)
			k.request("1.1.0", tc.deadline)
			k.run()
			r := k.result()
			if r.State != tc.state || r.Version != "v1.1.0" || r.From != "v1.0.0" {
				t.Errorf("result %+v, want %s", r, tc.state)
			}
			for _, s := range tc.says {
				if !strings.Contains(r.Reason, s) {
					t.Errorf("result's reason %q lacks %q", r.Reason, s)
				}
			}
			if got := k.installed(); got != tc.installed {
				t.Errorf("installed %q, want %q", got, tc.installed)
			}
			if got := k.calls(); !slices.Equal(got, tc.calls) {
				t.Errorf("msiexec ran %q, want %q", got, tc.calls)
			}
			if !exists(filepath.Join(k.dir, "msiexec-install.log")) {
				t.Error("no msiexec log in the update directory")
			}
			kept := []string{"casefleet-agent-1.0.0-x64.msi", "manifest.json"}
			if tc.state == Healthy {
				kept = []string{"casefleet-agent-1.1.0-x64.msi", "manifest.json"}
			}
			if got := k.keptFiles(); !slices.Equal(got, kept) {
				t.Errorf("update/installed/ holds %v, want %v", got, kept)
			}
			if exists(filepath.Join(k.in.Work, "journal.json")) {
				t.Error("the journal is still there after the job ended")
			}
		})
	}
}

type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitStatus) ExitCode() int { return int(e) }

// msiexec's 3010 is "installed; a restart of the PC would finish it": an
// install (checked without a process: exit statuses here are 8 bits).
func TestMSIRebootRequiredIsInstalled(t *testing.T) {
	if !rebootRequired(fmt.Errorf("msiexec /i x.msi: %w: ", exitStatus(3010))) {
		t.Error("3010 is not taken for installed")
	}
	for _, err := range []error{exitStatus(1603), exitStatus(1618), errors.New("exit status 3010")} {
		if rebootRequired(err) {
			t.Errorf("%v taken for installed", err)
		}
	}
}

// FileVersion believes only a manifest signed with the release key that
// names the file.
func TestMSIFileVersion(t *testing.T) {
	f := newFixture(t)
	f.platform = release.WindowsAMD64MSI
	dir := t.TempDir()
	pkg, manifest := f.release(dir, "1.1.0")
	if err := os.Rename(manifest, filepath.Join(dir, KeptManifest)); err != nil {
		t.Fatal(err)
	}
	m := MSI{Key: f.in.ReleaseKey}
	if v, err := m.FileVersion(t.Context(), pkg); err != nil || v != "v1.1.0" {
		t.Errorf("FileVersion = %q, %v", v, err)
	}
	if v, err := m.FileVersion(t.Context(), filepath.Join(dir, "casefleet-agent-1.2.0-x64.msi")); err == nil {
		t.Errorf("FileVersion of a file the manifest does not name = %q", v)
	}
	other, _, _ := release.GenerateKey()
	if v, err := (MSI{Key: other}).FileVersion(t.Context(), pkg); err == nil {
		t.Errorf("FileVersion with another key = %q", v)
	}
	if v, err := (MSI{}).FileVersion(t.Context(), pkg); err == nil {
		t.Errorf("FileVersion without a key = %q", v)
	}
}
