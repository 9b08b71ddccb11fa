//go:build linux

package packaging

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"casefleet/agent/installer"
	"casefleet/shared/release"
	"casefleet/shared/release/releasetest"
)

// TestUpdateInstallWithRealDpkg runs the update installer, the real
// binary, with the real dpkg on the real packages in a throw-away root
// (dpkg --root: maintainer scripts run chrooted there, in a small root
// this test builds from this machine's tools): v1.0.0 -> v1.1.0 with the
// installer killed (-9, its dpkg with it) in the middle of the install and
// the next run finishing the job; then v1.1.0 -> a v1.2.0 whose binary
// exits at start, rolled back to v1.1.0. The queue and print files are not
// touched.
func TestUpdateInstallWithRealDpkg(t *testing.T) {
	slow(t)
	needRoot(t) // dpkg --root chroots into the throw-away root to run the maintainer scripts
	needTools(t, "dpkg", "dpkg-deb", "dpkg-query")
	need(t, runtime.GOARCH == "amd64", "this machine is "+runtime.GOARCH, "build.sh makes amd64 packages by default: run on amd64")

	v100 := only(t, buildPackages(t, "v1.0.0", "agent-deb"), "casefleet-agent_1.0.0_*.deb")
	v110 := only(t, buildPackages(t, "v1.1.0", "agent-deb"), "casefleet-agent_1.1.0_*.deb")
	v120 := brokenAgentDeb(t, "v1.2.0")

	keys, _, priv := releasetest.Keys(t)

	root := throwAwayRoot(t)
	run(t, "dpkg", "--root="+root, "-i", v100)
	installed := func() string {
		return run(t, "dpkg-query", "--root="+root, "-W", "-f=${db:Status-Abbrev}${Version}", "casefleet-agent")
	}
	if got := installed(); got != "ii 1.0.0" {
		t.Fatalf("dpkg-query after installing v1.0.0: %q", got)
	}

	// The agent's state: its queue and a print file, and what the agent
	// puts in update/ (docs/updates.md): the installed version's package
	// kept in installed/, then per update the verified package, its
	// manifest and request.json.
	data := filepath.Join(root, "var/lib/casefleet")
	queue := map[string][]byte{
		filepath.Join(data, "casefleet.db"):             []byte("the queue"),
		filepath.Join(data, "files", "print-0001.tiff"): []byte("a print file"),
	}
	for path, body := range queue {
		os.MkdirAll(filepath.Dir(path), 0o750)
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	update := filepath.Join(data, "update")
	stage := func(dir, version, file string) (pkg, manifest string) {
		t.Helper()
		return stageRelease(t, priv, dir, version, file)
	}
	request := func(version, from, deb string, deadline int) {
		t.Helper()
		pkg, manifest := stage(update, version, deb)
		b, _ := json.Marshal(installer.Request{Version: version, From: from, Platform: release.LinuxAMD64Deb,
			Package: pkg, Manifest: manifest, DeadlineSeconds: deadline})
		if err := os.WriteFile(filepath.Join(update, installer.RequestFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, keptManifest := stage(filepath.Join(update, installer.InstalledDir), "v1.0.0", v100)
	if err := os.Rename(keptManifest, filepath.Join(update, installer.InstalledDir, installer.KeptManifest)); err != nil {
		t.Fatal(err)
	}

	// The installer: the real binary (v1.0.0's, from the root), as the unit
	// runs it, pointed at the throw-away root.
	bin := filepath.Join(t.TempDir(), "casefleet-agent")
	run(t, "cp", filepath.Join(root, "usr/bin/casefleet-agent"), bin)
	work := filepath.Join(t.TempDir(), "casefleet-update")
	installerCmd := func(extra ...string) *exec.Cmd {
		args := append([]string{"update-install", "--root", root, "--dir", update, "--work", work,
			"--release-pub", filepath.Join(keys, release.PublicKeyFile)}, extra...)
		return exec.Command(bin, args...)
	}
	result := func() installer.Result {
		t.Helper()
		var r installer.Result
		b, err := os.ReadFile(filepath.Join(update, installer.ResultFile))
		if err != nil {
			t.Fatalf("result.json: %v", err)
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}

	// systemd and the agent, played by the test: the agent installed in
	// the root is started, and when it starts (its version command works)
	// it reports itself healthy, as the real agent does after its checks.
	ctx, stop := context.WithCancel(t.Context())
	agentDone := make(chan struct{})
	go func() {
		defer close(agentDone)
		playAgent(ctx, filepath.Join(root, "usr/bin/casefleet-agent"), filepath.Join(update, installer.HealthFile))
	}()
	t.Cleanup(func() { stop(); <-agentDone })

	t.Run("killed mid-install, the next run finishes v1.0.0 -> v1.1.0", func(t *testing.T) {
		// dpkg for the killed run: -i only unpacks, says so on a FIFO and
		// hangs, as a power cut would find it.
		tools := t.TempDir()
		fifo := filepath.Join(tools, "unpacked")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		hang := filepath.Join(tools, "dpkg")
		script := `#!/bin/sh
case " $* " in *" -i "*)
	for a; do last=$a; done
	dpkg "$1" --unpack "$last" || exit 1
	echo unpacked >` + fifo + `
	exec sleep 600 ;;
esac
exec dpkg "$@"
`
		if err := os.WriteFile(hang, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		request("v1.1.0", "v1.0.0", v110, 60)
		cmd := installerCmd("--dpkg", hang)
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		unpacked := make(chan error, 1)
		go func() {
			f, err := os.Open(fifo) // blocks until the hanging dpkg writes
			if err == nil {
				_, err = bufio.NewReader(f).ReadString('\n')
				f.Close()
			}
			unpacked <- err
		}()
		select {
		case err := <-unpacked:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(2 * time.Minute):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
			t.Fatalf("dpkg never got to unpack:\n%s", logs.String())
		}
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil { // the installer and its dpkg
			t.Fatal(err)
		}
		cmd.Wait()

		var status installer.Status
		if b, err := os.ReadFile(filepath.Join(update, installer.StatusFile)); err != nil || json.Unmarshal(b, &status) != nil || status.State != "installing" {
			t.Errorf("status.json after the kill: %s (%v)", b, err)
		}
		if exists(filepath.Join(update, installer.ResultFile)) {
			t.Error("result.json after the kill")
		}
		if got := installed(); got != "iU 1.1.0" {
			t.Errorf("dpkg-query after the kill: %q, want unpacked, not configured", got)
		}

		// Started again (the unit's restart, or at boot): it finishes.
		out, err := installerCmd().CombinedOutput()
		if err != nil {
			t.Fatalf("the next run: %v\n%s", err, out)
		}
		t.Logf("the next run:\n%s", out)
		if r := result(); r.State != installer.Healthy || r.Version != "v1.1.0" {
			t.Errorf("result %+v", r)
		}
		for _, says := range []string{"finishing the job an earlier run left", "package database repaired", "installed=1.1.0", "the new version is healthy"} {
			if !strings.Contains(string(out), says) {
				t.Errorf("the log lacks %q:\n%s", says, out)
			}
		}
		if got := installed(); got != "ii 1.1.0" {
			t.Errorf("dpkg-query: %q, want v1.1.0 installed", got)
		}
		kept, _ := filepath.Glob(filepath.Join(update, installer.InstalledDir, "*"))
		if len(kept) != 2 || !strings.Contains(strings.Join(kept, " "), "casefleet-agent_1.1.0_") || !exists(filepath.Join(update, installer.InstalledDir, installer.KeptManifest)) {
			t.Errorf("update/installed/ holds %v, want v1.1.0's package and manifest", kept)
		}
	})

	t.Run("a version that exits at start is rolled back: v1.1.0 -> v1.2.0 -> v1.1.0", func(t *testing.T) {
		request("v1.2.0", "v1.1.0", v120, 3)
		start := time.Now()
		out, err := installerCmd().CombinedOutput()
		if err != nil {
			t.Fatalf("update-install: %v\n%s", err, out)
		}
		t.Logf("update-install:\n%s", out)
		r := result()
		if r.State != installer.RolledBack || r.Version != "v1.2.0" {
			t.Errorf("result %+v", r)
		}
		if !strings.Contains(string(out), "reinstalling the kept package") {
			t.Error("the log does not say the kept package was reinstalled")
		}
		for _, says := range []string{"v1.2.0 did not report healthy within 3s", "v1.1.0 reinstalled"} {
			if !strings.Contains(r.Reason, says) {
				t.Errorf("the reason %q lacks %q", r.Reason, says)
			}
			if !strings.Contains(string(out), says) {
				t.Errorf("the log lacks %q:\n%s", says, out)
			}
		}
		if got := installed(); got != "ii 1.1.0" {
			t.Errorf("dpkg-query after the rollback: %q, want v1.1.0", got)
		}
		if got := run(t, filepath.Join(root, "usr/bin/casefleet-agent"), "version"); got != "casefleet-agent v1.1.0\n" {
			t.Errorf("the installed agent says %q", got)
		}
		t.Logf("v1.2.0 installed, waited 3 s for its health, v1.1.0 back: %v", time.Since(start).Round(10*time.Millisecond))
	})

	t.Run("a package dpkg cannot install: failed, v1.1.0 still installed", func(t *testing.T) {
		// Signed as it is (the release's builder shipped a cut file): it
		// passes the checks, dpkg fails in the middle of unpacking.
		cut := brokenAgentDeb(t, "v1.3.0")
		b, err := os.ReadFile(cut)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cut, b[:len(b)*3/4], 0o644); err != nil {
			t.Fatal(err)
		}
		request("v1.3.0", "v1.1.0", cut, 30)
		out, err := installerCmd().CombinedOutput()
		if err != nil {
			t.Fatalf("update-install: %v\n%s", err, out)
		}
		t.Logf("update-install:\n%s", out)
		r := result()
		if r.State != installer.Failed || r.Version != "v1.3.0" {
			t.Errorf("result %+v", r)
		}
		for _, says := range []string{"v1.3.0 did not install", "dpkg --root=", "v1.1.0"} {
			if !strings.Contains(r.Reason, says) {
				t.Errorf("the reason %q lacks %q", r.Reason, says)
			}
		}
		if got := installed(); got != "ii 1.1.0" {
			t.Errorf("dpkg-query: %q, want v1.1.0", got)
		}
		if got := run(t, filepath.Join(root, "usr/bin/casefleet-agent"), "version"); got != "casefleet-agent v1.1.0\n" {
			t.Errorf("the installed agent says %q", got)
		}
	})

	for path, body := range queue {
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, body) {
			t.Errorf("%s changed by the updates: %q (%v)", path, got, err)
		}
	}
}

// playAgent stands for systemd and the agent: whenever the installed
// binary runs (its version command), it writes health.json for that
// version as the agent does after its checks; a binary that exits at
// start reports nothing.
func playAgent(ctx context.Context, bin, health string) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := exec.CommandContext(ctx, bin, "version").Output()
		if v, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "casefleet-agent "); err == nil && ok {
			var h installer.Health
			if b, err := os.ReadFile(health); err != nil || json.Unmarshal(b, &h) != nil || h.Version != v {
				b, _ := json.Marshal(installer.Health{Version: v, Healthy: true})
				tmp := health + ".tmp"
				if os.WriteFile(tmp, b, 0o644) == nil {
					os.Rename(tmp, health)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// brokenAgentDeb is the agent's .deb at version whose binary exits at
// start: the same recipe through mkpkg, with a binary that fails.
func brokenAgentDeb(t *testing.T, version string) string { return brokenAgent(t, version, "deb") }

// brokenAgent is brokenAgentDeb in format (deb or rpm).
func brokenAgent(t *testing.T, version, format string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	broken := "#!/bin/sh\necho \"casefleet-agent " + version + ": broken on purpose\" >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "casefleet-agent"), []byte(broken), 0o755); err != nil {
		t.Fatal(err)
	}
	mkpkg := filepath.Join(dir, "mkpkg")
	run(t, "go", "build", "-o", mkpkg, "./cmd/mkpkg")
	out := run(t, mkpkg, "-recipe", "agent/nfpm.yaml", "-format", format, "-version", version, "-arch", runtime.GOARCH, "-bin", bin, "-out", dir)
	return strings.TrimSpace(out)
}

// throwAwayRoot builds a root dpkg --root can install the agent into: an
// empty dpkg database, /dev/null, the accounts files, and this machine's
// tools the maintainer scripts call (with their libraries). No systemd
// runs there: the scripts only enable units.
func throwAwayRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc", "tmp", "usr/bin", "usr/sbin", "var/lib/dpkg/info", "var/lib/dpkg/updates", "dev"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("usr/bin", filepath.Join(root, "bin"))
	os.Symlink("usr/sbin", filepath.Join(root, "sbin"))
	files := map[string]string{
		"var/lib/dpkg/status": "", "var/lib/dpkg/available": "",
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", "etc/group": "root:x:0:\n",
		"etc/shadow": "root:*:19000:0:99999:7:::\n", "etc/gshadow": "root:*::\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if defs, err := os.ReadFile("/etc/login.defs"); err == nil {
		os.WriteFile(filepath.Join(root, "etc/login.defs"), defs, 0o644)
	}
	run(t, "mknod", "-m", "666", filepath.Join(root, "dev/null"), "c", "1", "3")
	for _, tool := range []string{"sh", "getent", "groupadd", "useradd", "userdel", "groupdel", "grep", "install", "rm", "rmdir", "cat"} {
		path, err := exec.LookPath(tool)
		need(t, err == nil, tool+" is not installed", "the maintainer scripts need it")
		path, _ = filepath.EvalSymlinks(path)
		copyInto(t, root, path, "/usr/bin/"+tool)
		libs, _ := exec.Command("ldd", path).Output()
		for _, lib := range regexpLibs.FindAllString(string(libs), -1) {
			copyInto(t, root, lib, lib)
		}
	}
	return root
}

// regexpLibs finds the libraries in ldd's output.
var regexpLibs = regexp.MustCompile(`/[^ \t\n]+`)

func copyInto(t *testing.T, root, src, dst string) {
	t.Helper()
	target := filepath.Join(root, dst)
	if exists(target) {
		return
	}
	os.MkdirAll(filepath.Dir(target), 0o755)
	run(t, "cp", "-L", src, target)
}

// TestUpdateInstallWithRealRPM is the same with rpm, in a throw-away root
// (rpm --root, scriptlets chrooted there): v1.0.0 -> v1.1.0 healthy, then a
// v1.2.0 that exits at start rolled back with rpm -U --oldpackage. The
// root's rpm database has nothing else, so dependencies (/bin/sh) are not
// checked: rpm runs with --nodeps for installs there.
func TestUpdateInstallWithRealRPM(t *testing.T) {
	slow(t)
	needRoot(t) // rpm --root chroots into the throw-away root to run the scriptlets
	needTools(t, "rpm")
	need(t, runtime.GOARCH == "amd64", "this machine is "+runtime.GOARCH, "build.sh makes amd64 packages by default: run on amd64")

	v100 := only(t, buildPackages(t, "v1.0.0", "agent-rpm"), "casefleet-agent-1.0.0-1.*.rpm")
	v110 := only(t, buildPackages(t, "v1.1.0", "agent-rpm"), "casefleet-agent-1.1.0-1.*.rpm")
	v120 := brokenAgent(t, "v1.2.0", "rpm")

	keys, _, priv := releasetest.Keys(t)
	root := throwAwayRoot(t)
	run(t, "rpm", "--root", root, "--initdb")
	tools := t.TempDir()
	rpm := filepath.Join(tools, "rpm")
	if err := os.WriteFile(rpm, []byte("#!/bin/sh\ncase \" $* \" in *\" -U \"*|*\" -i \"*) exec rpm --nodeps \"$@\" ;; esac\nexec rpm \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, rpm, "--root", root, "-i", v100)
	installed := func() string {
		return run(t, "rpm", "--root", root, "-q", "--qf", "%{VERSION}-%{RELEASE}\n", "casefleet-agent")
	}
	if got := installed(); got != "1.0.0-1\n" {
		t.Fatalf("rpm -q after installing v1.0.0: %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(root, installer.FormatFile)); string(got) != "rpm" {
		t.Fatalf("package-format: %q", got)
	}
	if passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd")); !strings.Contains(string(passwd), "\ncasefleet:") {
		t.Fatalf("the scriptlets did not run in the root (no casefleet user):\n%s", passwd)
	}

	update := filepath.Join(root, "var/lib/casefleet/update")
	stage := func(dir, version, file string) (pkg, manifest string) {
		t.Helper()
		return stageRelease(t, priv, dir, version, file)
	}
	_, kept := stage(filepath.Join(update, installer.InstalledDir), "v1.0.0", v100)
	if err := os.Rename(kept, filepath.Join(update, installer.InstalledDir, installer.KeptManifest)); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "casefleet-agent")
	run(t, "cp", filepath.Join(root, "usr/bin/casefleet-agent"), bin)
	work := filepath.Join(t.TempDir(), "casefleet-update")
	update1 := func(version, from, file string, deadline int) (installer.Result, string) {
		t.Helper()
		pkg, manifest := stage(update, version, file)
		b, _ := json.Marshal(installer.Request{Version: version, From: from, Platform: release.LinuxAMD64RPM,
			Package: pkg, Manifest: manifest, DeadlineSeconds: deadline})
		if err := os.WriteFile(filepath.Join(update, installer.RequestFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "update-install", "--root", root, "--rpm", rpm, "--dir", update, "--work", work,
			"--release-pub", filepath.Join(keys, release.PublicKeyFile)).CombinedOutput()
		if err != nil {
			t.Fatalf("update-install: %v\n%s", err, out)
		}
		var r installer.Result
		b, _ = os.ReadFile(filepath.Join(update, installer.ResultFile))
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("result.json %q: %v\n%s", b, err, out)
		}
		return r, string(out)
	}

	ctx, stop := context.WithCancel(t.Context())
	agentDone := make(chan struct{})
	go func() {
		defer close(agentDone)
		playAgent(ctx, filepath.Join(root, "usr/bin/casefleet-agent"), filepath.Join(update, installer.HealthFile))
	}()
	t.Cleanup(func() { stop(); <-agentDone })

	if r, out := update1("v1.1.0", "v1.0.0", v110, 60); r.State != installer.Healthy {
		t.Fatalf("v1.0.0 -> v1.1.0: %+v\n%s", r, out)
	}
	if got := installed(); got != "1.1.0-1\n" {
		t.Errorf("rpm -q after the update: %q", got)
	}
	r, out := update1("v1.2.0", "v1.1.0", v120, 3)
	t.Logf("update-install:\n%s", out)
	if r.State != installer.RolledBack || !strings.Contains(r.Reason, "v1.2.0 did not report healthy within 3s; v1.1.0 reinstalled") {
		t.Errorf("v1.1.0 -> v1.2.0: %+v", r)
	}
	if got := installed(); got != "1.1.0-1\n" {
		t.Errorf("rpm -q after the rollback: %q, want only 1.1.0-1", got)
	}
	if got := run(t, filepath.Join(root, "usr/bin/casefleet-agent"), "version"); got != "casefleet-agent v1.1.0\n" {
		t.Errorf("the installed agent says %q", got)
	}
}

// stageRelease puts a copy of the package file into dir with its manifest
// (VERSION.manifest.json) signed by priv, as the agent leaves them for the
// installer, and returns both paths.
func stageRelease(t *testing.T, priv ed25519.PrivateKey, dir, version, file string) (pkg, manifest string) {
	t.Helper()
	os.MkdirAll(dir, 0o750)
	pkg = filepath.Join(dir, filepath.Base(file))
	run(t, "cp", file, pkg)
	p, err := release.Describe(pkg)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := release.Sign(priv, release.Manifest{Version: version, Created: time.Now(), Packages: []release.Package{p}})
	if err != nil {
		t.Fatal(err)
	}
	manifest = filepath.Join(dir, version+".manifest.json")
	if err := os.WriteFile(manifest, signed, 0o644); err != nil {
		t.Fatal(err)
	}
	return pkg, manifest
}
