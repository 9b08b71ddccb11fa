package installer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"casefleet/shared/release"
)

const platform = release.LinuxAMD64Deb

// fakeTool is dpkg as the installer sees it: a package file's version is
// written in it ("version=1.1.0"); installing one makes it the installed
// version. hooks stand for what happens on the machine meanwhile.
type fakeTool struct {
	mu        sync.Mutex
	installed string // "" when half installed
	calls     []string
	onInstall func(file string) error // after the version is installed
	onRepair  func()
}

func (f *fakeTool) Install(_ context.Context, file string) error {
	v, err := f.FileVersion(context.Background(), file)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.calls = append(f.calls, "install "+v)
	f.installed = v
	hook := f.onInstall
	f.mu.Unlock()
	if hook != nil {
		return hook(file)
	}
	return nil
}

func (f *fakeTool) Reinstall(_ context.Context, file string) error {
	v, err := f.FileVersion(context.Background(), file)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "reinstall "+v)
	f.installed = v
	return nil
}

func (f *fakeTool) Repair(context.Context) error {
	f.mu.Lock()
	f.calls = append(f.calls, "repair")
	hook := f.onRepair
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	return nil
}

func (f *fakeTool) Installed(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.installed == "" {
		return "", errors.New("casefleet-agent is not fully installed (dpkg status \"iF\")")
	}
	return f.installed, nil
}

func (f *fakeTool) FileVersion(_ context.Context, file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	_, v, ok := strings.Cut(strings.Fields(string(b))[0], "version=")
	if !ok {
		return "", fmt.Errorf("%s: not a package", file)
	}
	return v, nil
}

func (f *fakeTool) state() (string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.installed, slices.Clone(f.calls)
}

type fixture struct {
	t        *testing.T
	platform string
	dir      string // the agent's update directory
	priv     ed25519.PrivateKey
	tool     *fakeTool
	in       *Installer
	logs     *bytes.Buffer
}

// newFixture: a kiosk on v1.0.0, whose package the agent has kept in
// update/installed/.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	pub, priv, err := release.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "update")
	logs := &bytes.Buffer{}
	f := &fixture{t: t, platform: platform, dir: dir, priv: priv, tool: &fakeTool{installed: "1.0.0"}, logs: logs}
	f.in = &Installer{
		Dir: dir, Work: filepath.Join(t.TempDir(), "work"), ReleaseKey: pub, Platform: platform,
		Tool: f.tool, Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil)), Recheck: 50 * time.Millisecond,
	}
	_, manifest := f.release(filepath.Join(dir, InstalledDir), "1.0.0")
	if err := os.Rename(manifest, filepath.Join(dir, InstalledDir, KeptManifest)); err != nil { // as the agent names it
		t.Fatal(err)
	}
	return f
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// release writes version's package (64 KiB) and its signed manifest into
// dir and returns their paths.
func (f *fixture) release(dir, version string) (pkg, manifest string) {
	f.t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	pkg = filepath.Join(dir, "casefleet-agent_"+version+"_amd64.deb")
	if f.platform == release.WindowsAMD64MSI {
		pkg = filepath.Join(dir, "casefleet-agent-"+version+"-x64.msi")
	}
	body := append([]byte("version="+version+"\n"), bytes.Repeat([]byte{'x'}, 64<<10)...)
	if err := os.WriteFile(pkg, body, 0o644); err != nil {
		f.t.Fatal(err)
	}
	p, err := release.Describe(pkg)
	if err != nil {
		f.t.Fatal(err)
	}
	signed, err := release.Sign(f.priv, release.Manifest{Version: "v" + version, Created: time.Now(), Packages: []release.Package{p}})
	if err != nil {
		f.t.Fatal(err)
	}
	manifest = filepath.Join(dir, "v"+version+".manifest.json")
	if err := os.WriteFile(manifest, signed, 0o644); err != nil {
		f.t.Fatal(err)
	}
	return pkg, manifest
}

// request writes request.json for version, as the agent does.
func (f *fixture) request(version string, deadline int) Request {
	f.t.Helper()
	pkg, manifest := f.release(f.dir, version)
	req := Request{Version: "v" + version, From: "v1.0.0", Platform: f.platform, Package: pkg, Manifest: manifest, DeadlineSeconds: deadline}
	f.writeRequest(req)
	return req
}

func (f *fixture) writeRequest(req Request) {
	f.t.Helper()
	b, _ := json.Marshal(req)
	if err := atomicWrite(filepath.Join(f.dir, RequestFile), b, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// health writes health.json as an agent of version would.
func (f *fixture) health(h Health) {
	b, _ := json.Marshal(h)
	if err := atomicWrite(filepath.Join(f.dir, HealthFile), b, 0o644); err != nil {
		f.t.Error(err)
	}
}

func (f *fixture) run(ctx context.Context) error {
	f.t.Helper()
	return f.in.Run(ctx)
}

func (f *fixture) result() Result {
	f.t.Helper()
	var r Result
	if err := readJSON(filepath.Join(f.dir, ResultFile), &r); err != nil {
		f.t.Fatalf("result.json: %v", err)
	}
	return r
}

// check: the job ended in state, with a reason holding each of says, in
// result.json and in the log; the kiosk runs installed.
func (f *fixture) check(state, installed string, says ...string) Result {
	f.t.Helper()
	r := f.result()
	if r.State != state {
		f.t.Errorf("result %+v: want state %s", r, state)
	}
	for _, s := range says {
		if !strings.Contains(r.Reason, s) {
			f.t.Errorf("result's reason %q lacks %q", r.Reason, s)
		}
		if !strings.Contains(strings.ReplaceAll(f.logs.String(), `\"`, `"`), s) {
			f.t.Errorf("the log lacks %q:\n%s", s, f.logs)
		}
	}
	if got, _ := f.tool.state(); got != installed {
		f.t.Errorf("installed: %q, want %q", got, installed)
	}
	if exists(filepath.Join(f.in.Work, "journal.json")) {
		f.t.Error("the journal is still there after the job ended")
	}
	return r
}

func (f *fixture) keptFiles() []string {
	entries, _ := os.ReadDir(filepath.Join(f.dir, InstalledDir))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestHealthyUpdateKeepsTheNewPackage(t *testing.T) {
	f := newFixture(t)
	f.request("1.1.0", 30)
	f.tool.onInstall = func(string) error {
		// status.json says so before the package tool runs.
		var s Status
		if err := readJSON(filepath.Join(f.dir, StatusFile), &s); err != nil || s.State != "installing" || s.Version != "v1.1.0" {
			t.Errorf("at install time status.json is %+v (%v)", s, err)
		}
		go f.health(Health{Version: "v1.1.0", Healthy: true}) // the new agent, once started
		return nil
	}
	if err := f.run(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.check(Healthy, "1.1.0")
	if got, want := f.keptFiles(), []string{"casefleet-agent_1.1.0_amd64.deb", "manifest.json"}; !slices.Equal(got, want) {
		t.Errorf("update/installed/ holds %v, want %v", got, want)
	}
	_, calls := f.tool.state()
	if !slices.Equal(calls, []string{"install 1.1.0"}) {
		t.Errorf("tool calls %v", calls)
	}

	// Started again (the path unit, a boot): the request is done.
	if err := f.run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, again := f.tool.state(); !slices.Equal(again, calls) {
		t.Errorf("a second run did more: %v", again)
	}

	// The next update goes back to 1.1.0 if it must: the kept package.
	f.request("1.2.0", 1)
	f.tool.onInstall = nil
	if err := f.run(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.check(RolledBack, "1.1.0", "v1.2.0 did not report healthy within 1s", "v1.1.0 reinstalled")
}

func TestNeverHealthyIsRolledBack(t *testing.T) {
	f := newFixture(t)
	f.health(Health{Version: "v1.0.0", Healthy: true}) // the old agent's: not the new one's
	f.request("1.1.0", 1)
	start := time.Now()
	if err := f.run(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.check(RolledBack, "1.0.0", "v1.1.0 did not report healthy within 1s", "v1.0.0 reinstalled")
	if _, calls := f.tool.state(); !slices.Equal(calls, []string{"install 1.1.0", "reinstall 1.0.0"}) {
		t.Errorf("tool calls %v", calls)
	}
	if took := time.Since(start); took < time.Second || took > 10*time.Second {
		t.Errorf("took %v for a 1 s deadline", took)
	}
	if got := f.keptFiles(); !slices.Contains(got, "casefleet-agent_1.0.0_amd64.deb") {
		t.Errorf("the kept package changed: %v", got)
	}
}

func TestUnhealthyReportRollsBackAtOnce(t *testing.T) {
	f := newFixture(t)
	f.request("1.1.0", 600)
	f.tool.onInstall = func(string) error {
		go f.health(Health{Version: "v1.1.0", Healthy: false, Reason: "printer link: no credentials"})
		return nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := f.run(ctx); err != nil {
		t.Fatal(err)
	}
	f.check(RolledBack, "1.0.0", "v1.1.0 reported itself unhealthy: printer link: no credentials", "v1.0.0 reinstalled")
}

func TestPackageThatFailsToInstall(t *testing.T) {
	f := newFixture(t)
	f.request("1.1.0", 30)
	f.tool.onInstall = func(string) error {
		f.tool.mu.Lock()
		f.tool.installed = "" // its postinst failed: half configured
		f.tool.mu.Unlock()
		return errors.New("dpkg -i: exit status 1: subprocess installed post-installation script returned error exit status 1")
	}
	if err := f.run(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.check(Failed, "1.0.0", "v1.1.0 did not install", "post-installation script", "v1.0.0 reinstalled")
}

// Each refusal ends with nothing installed and the reason in result.json.
func TestRefusedBeforeInstalling(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(f *fixture, req *Request)
		says   string
	}{
		{"manifest signed by another key", func(f *fixture, req *Request) {
			_, other, _ := release.GenerateKey()
			m, _ := release.Verify(f.in.ReleaseKey, mustRead(f.t, req.Manifest))
			signed, _ := release.Sign(other, m)
			os.WriteFile(req.Manifest, signed, 0o644)
		}, "signature does not match the release key"},
		{"truncated package", func(f *fixture, req *Request) {
			b := mustRead(f.t, req.Package)
			os.WriteFile(req.Package, b[:len(b)-100], 0o644)
		}, "bytes, the manifest says"},
		{"package changed", func(f *fixture, req *Request) {
			b := mustRead(f.t, req.Package)
			b[len(b)-1] ^= 1
			os.WriteFile(req.Package, b, 0o644)
		}, "has SHA-256"},
		{"release for another platform", func(f *fixture, req *Request) { req.Platform = release.LinuxARM64Deb }, `platform "linux-arm64-deb"`},
		{"request says another version than the manifest", func(f *fixture, req *Request) { req.Version = "v1.9.0" }, "the manifest is for v1.1.0, the request for v1.9.0"},
		{"package outside the update directory", func(f *fixture, req *Request) {
			outside := filepath.Join(f.t.TempDir(), filepath.Base(req.Package))
			os.WriteFile(outside, mustRead(f.t, req.Package), 0o644)
			req.Package = outside
		}, "is not a file in the update directory"},
		{"package is a link to another file", func(f *fixture, req *Request) {
			target := filepath.Join(f.t.TempDir(), "secret")
			os.WriteFile(target, mustRead(f.t, req.Package), 0o600)
			os.Remove(req.Package)
			os.Symlink(target, req.Package)
		}, "is not a regular file"},
		{"no kept package", func(f *fixture, req *Request) { os.RemoveAll(filepath.Join(f.dir, InstalledDir)) }, "no package to roll back to"},
		{"kept package is not the installed version", func(f *fixture, req *Request) { f.tool.installed = "1.0.5" }, "the kept package is v1.0.0 (1.0.0) but 1.0.5 is installed"},
		{"no release key", func(f *fixture, req *Request) {
			f.in.ReleaseKey, f.in.keyErr = nil, errors.New("open /etc/casefleet/release.pub: no such file or directory")
		}, "no release key to verify it with"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			req := f.request("1.1.0", 30)
			tc.change(f, &req)
			f.writeRequest(req)
			before := f.tool.installed
			if err := f.run(t.Context()); err != nil {
				t.Fatal(err)
			}
			f.check(Failed, before, tc.says)
			if _, calls := f.tool.state(); len(calls) > 0 {
				t.Errorf("the tool ran: %v", calls)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A full disk when status.json is written: nothing is installed.
func TestFullDiskWritingStatus(t *testing.T) {
	f := newFixture(t)
	f.request("1.1.0", 30)
	f.in.writeFile = func(path string, data []byte) error {
		if filepath.Base(path) == StatusFile {
			return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
		}
		return atomicWrite(path, data, 0o644)
	}
	if err := f.run(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.check(Failed, "1.0.0", "write status.json before installing", "no space left on device", "v1.0.0 stays installed")
	if _, calls := f.tool.state(); len(calls) > 0 {
		t.Errorf("the tool ran: %v", calls)
	}
}

// A full disk when the kept package is copied (a real one: a 32 KiB tmpfs
// for the work directory; mounting needs root).
func TestFullDiskKeepingThePackage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	f := newFixture(t)
	f.request("1.1.0", 30)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=32k", "tmpfs", filepath.Dir(f.in.Work)).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", filepath.Dir(f.in.Work)).Run() })
	if err := f.run(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.check(Failed, "1.0.0", "keep the package of v1.0.0 for a rollback", "no space left on device")
	if _, calls := f.tool.state(); len(calls) > 0 {
		t.Errorf("the tool ran: %v", calls)
	}
}

// A run stopped mid-job (here: SIGTERM while waiting for health) leaves
// its journal; the next run finishes the job.
func TestInterruptedJobIsFinishedByTheNextRun(t *testing.T) {
	for _, tc := range []struct {
		name      string
		installed string // what the interruption left installed
		health    bool   // the new agent reports healthy
		state     string
		after     string
		says      []string
		calls     []string
	}{
		{"new version installed, healthy", "1.1.0", true, Healthy, "1.1.0", nil,
			[]string{"install 1.1.0", "repair"}},
		{"new version installed, never healthy", "1.1.0", false, RolledBack, "1.0.0",
			[]string{"v1.1.0 did not report healthy within 1s", "v1.0.0 reinstalled"},
			[]string{"install 1.1.0", "repair", "reinstall 1.0.0"}},
		{"half installed", "", false, RolledBack, "1.0.0",
			[]string{"interrupted while installing v1.1.0", "v1.0.0 reinstalled"},
			[]string{"install 1.1.0", "repair", "reinstall 1.0.0"}},
		{"old version still installed", "1.0.0", false, Failed, "1.0.0",
			[]string{"interrupted before v1.1.0 was installed; v1.0.0 is still installed"},
			[]string{"install 1.1.0", "repair"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.request("1.1.0", 1)
			ctx, stop := context.WithCancel(t.Context())
			f.tool.onInstall = func(string) error {
				f.tool.installed = tc.installed
				stop()
				return nil
			}
			if err := f.run(ctx); err == nil {
				t.Fatal("the stopped run reported its job done")
			}
			if exists(filepath.Join(f.dir, ResultFile)) {
				t.Fatal("result.json written by the stopped run")
			}
			var s Status
			if err := readJSON(filepath.Join(f.dir, StatusFile), &s); err != nil || s.State != "installing" {
				t.Errorf("status.json after the stop: %+v %v", s, err)
			}
			f.tool.onInstall = nil
			if tc.health {
				f.tool.onRepair = func() { go f.health(Health{Version: "v1.1.0", Healthy: true}) }
			}
			if err := f.run(t.Context()); err != nil {
				t.Fatal(err)
			}
			f.check(tc.state, tc.after, tc.says...)
			if _, calls := f.tool.state(); !slices.Equal(calls, tc.calls) {
				t.Errorf("tool calls %v, want %v", calls, tc.calls)
			}
		})
	}
}

// Killed while rolling back a package that did not install: the next run
// finishes the rollback and says the update failed, with the first reason.
func TestInterruptedRollbackIsFinished(t *testing.T) {
	f := newFixture(t)
	f.request("1.1.0", 30)
	f.tool.onInstall = func(string) error {
		f.tool.installed = ""
		return errors.New("dpkg -i: exit status 1: post-installation script returned error exit status 1")
	}
	// The rollback's reinstall is cut: the stand-in fails it without
	// touching anything, and the journal stays as a killed run leaves it.
	failing := &failingReinstall{fakeTool: f.tool}
	f.in.Tool = failing
	if err := f.run(t.Context()); err != nil {
		t.Fatal(err)
	}
	// That run ended "failed" (the rollback failed too); make it as if it
	// had been killed before it could say so.
	os.Remove(filepath.Join(f.dir, ResultFile))
	os.Remove(filepath.Join(f.in.Work, "done"))
	if err := atomicWrite(filepath.Join(f.in.Work, "journal.json"), failing.journal, 0o600); err != nil {
		t.Fatal(err)
	}
	f.in.Tool = f.tool
	if err := f.run(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.check(Failed, "1.0.0", "v1.1.0 did not install", "post-installation script", "v1.0.0 reinstalled")
}

// failingReinstall fails the rollback, keeping the journal as it was then.
type failingReinstall struct {
	*fakeTool
	journal []byte
}

func (f *failingReinstall) Reinstall(ctx context.Context, file string) error {
	f.journal, _ = os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(file)), "journal.json"))
	return errors.New("killed")
}

func TestNoRequestNothingToDo(t *testing.T) {
	f := newFixture(t)
	if err := f.run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(f.dir, ResultFile)) || exists(filepath.Join(f.dir, StatusFile)) {
		t.Error("a run without a request wrote a result or a status")
	}
}

func TestToolCommandLines(t *testing.T) {
	// The package tools' arguments, checked with a stand-in that prints
	// them: dpkg and rpm themselves run in packaging's tests.
	dir := t.TempDir()
	echo := filepath.Join(dir, "echo-args")
	if err := os.WriteFile(echo, []byte("#!/bin/sh\necho \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, tc := range []struct {
		run  func() (string, error)
		want string
	}{
		{func() (string, error) { return command(ctx, echo, Dpkg{Root: "/r"}.args("-i", "p.deb")...) }, "--root=/r -i p.deb"},
		{func() (string, error) { return command(ctx, echo, RPM{Root: "/r"}.args("-U", "p.rpm")...) }, "--root /r -U p.rpm"},
	} {
		got, err := tc.run()
		if err != nil || strings.TrimSpace(got) != tc.want {
			t.Errorf("got %q (%v), want %q", got, err, tc.want)
		}
	}
	// What each does, by a stand-in recording its arguments.
	log := filepath.Join(dir, "log")
	rec := filepath.Join(dir, "rec")
	os.WriteFile(rec, []byte("#!/bin/sh\necho \"$@\" >>"+log+"\necho 1.0.0-1\n"), 0o755)
	r := RPM{RPM: rec}
	r.Install(ctx, "new.rpm")
	r.Reinstall(ctx, "old.rpm")
	r.Installed(ctx)
	d := Dpkg{Dpkg: rec, Query: rec}
	d.Install(ctx, "new.deb")
	d.Repair(ctx)
	want := `-U new.rpm
-U --oldpackage --replacepkgs old.rpm
-q --qf %{VERSION}-%{RELEASE}
 casefleet-agent
--force-confdef --force-confold -i new.deb
--force-confdef --force-confold --configure -a
`
	if got := string(mustRead(t, log)); got != want {
		t.Errorf("commands:\n%s\nwant:\n%s", got, want)
	}
}

// One installer at a time: a run that finds another holding the work
// directory does nothing (on Windows the agent starts one at its own
// start to finish an interrupted job, which may find that job's installer
// still waiting for it); the lock goes with the process that held it.
func TestASecondInstallerLeavesTheJobToTheFirst(t *testing.T) {
	f := newFixture(t)
	f.request("1.1.0", 30)
	os.MkdirAll(f.in.Work, 0o700)
	if Busy(f.in.Work) {
		t.Fatal("Busy before any installer ran")
	}
	release, err := LockWork(f.in.Work) // the first installer
	if err != nil {
		t.Fatal(err)
	}
	if !Busy(f.in.Work) {
		t.Error("Busy is false while an installer holds the lock")
	}
	if err := f.run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(f.dir, StatusFile)) || exists(filepath.Join(f.dir, ResultFile)) {
		t.Error("the second installer touched the job")
	}
	if _, calls := f.tool.state(); len(calls) != 0 {
		t.Errorf("the second installer ran the package tool: %v", calls)
	}
	if !strings.Contains(f.logs.String(), "another update-install is running") {
		t.Errorf("the log does not say why nothing was done:\n%s", f.logs.String())
	}
	release()
	if Busy(f.in.Work) {
		t.Error("Busy after the first installer let go")
	}
}
