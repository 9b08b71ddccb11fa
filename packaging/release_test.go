package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"casefleet/shared/release"
	"casefleet/shared/release/releasetest"
)

// `make package RELEASE_KEY=...` (build.sh --release-key) signs a release
// manifest for the agent packages it built: it verifies with the release
// public key, and names each package's platform, size and hash exactly.
func TestPackageSignsAReleaseManifest(t *testing.T) {
	slow(t)
	keys, pub, _ := releasetest.Keys(t)
	out := t.TempDir()
	cmd := exec.Command("./build.sh", "-o", out, "-v", "v1.5.0", "--release-key", filepath.Join(keys, release.PrivateKeyFile), "agent-deb", "agent-rpm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh --release-key: %v\n%s", err, b)
	}
	data, err := os.ReadFile(filepath.Join(out, "casefleet-agent-1.5.0.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := release.Verify(pub, data)
	if err != nil {
		t.Fatalf("the manifest does not verify with release.pub: %v", err)
	}
	if m.Version != "v1.5.0" || len(m.Packages) != 2 {
		t.Fatalf("manifest = %+v, want v1.5.0 with the deb and the rpm", m)
	}
	for _, platform := range []string{release.LinuxAMD64Deb, release.LinuxAMD64RPM} {
		p, err := m.For(platform)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(filepath.Join(out, p.File))
		if err != nil {
			t.Fatalf("%s: the manifest names %s, not in %s: %v", platform, p.File, out, err)
		}
		if err := p.Check(f); err != nil {
			t.Errorf("%s: %v", platform, err)
		}
		f.Close()
	}

	// A key that is not there is said at once, before anything is built.
	cmd = exec.Command("./build.sh", "-o", t.TempDir(), "-v", "v1.5.0", "-k", filepath.Join(keys, "missing.key"), "agent-deb")
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "missing.key: no such file") {
		t.Errorf("build.sh -k with a missing key: %v\n%s", err, b)
	}
}
