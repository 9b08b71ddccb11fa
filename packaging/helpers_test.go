package packaging

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"casefleet/shared/testenv"
)

// aptPackage names the Debian package that brings each tool the tests use.
var aptPackage = map[string]string{
	"dpkg": "dpkg", "dpkg-deb": "dpkg", "dpkg-query": "dpkg", "runuser": "util-linux",
	"rpm":  "rpm",
	"wixl": "wixl", "msiinfo": "msitools", "msiextract": "msitools",
	"osslsigncode": "osslsigncode", "openssl": "openssl",
	"systemd-analyze": "systemd",
}

// need skips the test loudly when ok is false, or fails it when
// CASEFLEET_REQUIRE_SERVICES=1: on CI every package test must run.
func need(t *testing.T, ok bool, what, fix string) {
	t.Helper()
	if ok {
		return
	}
	msg := "\n*** " + what + "\n*** " + fix + "\n"
	if testenv.Required() {
		t.Fatal(msg + "*** " + testenv.RequireVar + "=1, so this is a failure")
	}
	t.Skip(msg + "*** SKIPPING this test (set " + testenv.RequireVar + "=1 to make it fail)")
}

// needTools needs each tool on PATH.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		_, err := exec.LookPath(tool)
		need(t, err == nil, tool+" is not installed", "install it: apt-get install -y "+aptPackage[tool])
	}
}

// needRoot needs the test to run as root: it installs packages.
func needRoot(t *testing.T) {
	t.Helper()
	need(t, os.Geteuid() == 0, "installing packages needs root", "run the package tests as root (CI does)")
}

// slow skips t under -short: building and installing packages takes a while.
func slow(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and installs packages: skipped with -short")
	}
}

// buildPackages runs build.sh, as `make package` does, for targets at
// version, into a fresh folder it returns.
func buildPackages(t *testing.T, version string, targets ...string) string {
	t.Helper()
	out := t.TempDir()
	args := append([]string{"-o", out, "-v", version}, targets...)
	cmd := exec.Command("./build.sh", args...)
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh %s: %v\n%s", strings.Join(args, " "), err, output)
	}
	return out
}

// only is the one file in dir whose name matches pattern.
func only(t *testing.T, dir, pattern string) string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(matches) != 1 {
		t.Fatalf("want one %s in %s, found %v (%v)", pattern, dir, matches, err)
	}
	return matches[0]
}

// run runs a command and returns its output; it fails the test if the
// command fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// succeeds reports whether a command exits 0.
func succeeds(name string, args ...string) bool {
	return exec.Command(name, args...).Run() == nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, os.ErrNotExist)
}

// unitDirectives reads a systemd unit file into key -> values, in order.
func unitDirectives(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	directives := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not a directive: %q", path, line)
		}
		directives[key] = append(directives[key], value)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return directives
}
