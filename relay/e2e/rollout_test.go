package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casefleet/relay/fleet"
	"casefleet/relay/relaytest"
	"casefleet/relay/updates"
	"casefleet/shared/release"
	"casefleet/shared/testenv"
)

// The fleet owner's rollout commands with the real binary: `rollout set`
// writes the file the relay reloads (checking the release is there and
// signed, refusing a downgrade not asked for), and `rollout status` reads
// the relay's view with an admin token.
func TestRolloutCommands(t *testing.T) {
	f := relaytest.NewFleet(t)
	keys := filepath.Join(t.TempDir(), "release")
	if out, code := runRelay(t, nil, "release-keygen", "--out", keys); code != 0 {
		t.Fatalf("release-keygen: %s", out)
	}
	priv, _ := release.LoadPrivateKey(filepath.Join(keys, release.PrivateKeyFile))
	releases := t.TempDir()
	for _, v := range []string{"v1.5.0", "v1.6.0"} {
		pkg := []byte("agent " + v)
		file := "casefleet-agent_" + strings.TrimPrefix(v, "v") + "_amd64.deb"
		os.MkdirAll(filepath.Join(releases, v), 0o755)
		os.WriteFile(filepath.Join(releases, v, file), pkg, 0o644)
		sum := sha256.Sum256(pkg)
		signed, _ := release.Sign(priv, release.Manifest{Version: v, Packages: []release.Package{{
			Platform: release.LinuxAMD64Deb, File: file, Size: int64(len(pkg)), SHA256: hex.EncodeToString(sum[:])}}})
		os.WriteFile(filepath.Join(releases, v, updates.ManifestName(v)), signed, 0o644)
	}
	rollout := filepath.Join(t.TempDir(), "rollout.yaml")
	pub := filepath.Join(keys, release.PublicKeyFile)
	set := func(args ...string) (string, int) {
		return runRelay(t, nil, append([]string{"rollout", "set", "--file", rollout, "--releases-dir", releases, "--release-pub", pub}, args...)...)
	}

	if out, code := set("--target", "v1.6.0", "--percent", "25", "--canaries", "CT0700026"); code != 0 || !strings.Contains(out, "signed, for linux-amd64-deb") {
		t.Fatalf("rollout set = %d %s", code, out)
	}
	if r, err := updates.LoadRollout(rollout); err != nil || r.Target != "v1.6.0" || r.Percent != 25 || r.Canaries[0] != "CT0700026" {
		t.Fatalf("the file written: %+v %v", r, err)
	}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--target", "v1.5.0"}, "--allow-downgrade"},
		{[]string{"--target", "v1.7.0"}, "v1.7.0"},
		{[]string{"--target", "v1.6.0", "--percent", "120"}, "percent"},
		{[]string{"--target", "latest"}, "target"},
	} {
		if out, code := set(tc.args...); code == 0 || !strings.Contains(out, tc.says) {
			t.Errorf("rollout set %v = %d %q, want a refusal naming %q", tc.args, code, out, tc.says)
		}
	}
	if r, _ := updates.LoadRollout(rollout); r.Target != "v1.6.0" || r.Percent != 25 {
		t.Errorf("a refused set changed the file: %+v", r)
	}
	if out, code := set("--target", "v1.5.0", "--allow-downgrade", "--percent", "100"); code != 0 {
		t.Errorf("an explicit downgrade = %d %s", code, out)
	}

	relay := startRelayProc(t, f, testenv.FreeAddr(t), "--releases-dir", releases, "--release-pub", pub, "--rollout", rollout)
	token, _, err := fleet.IssueAdmin(fleet.AdminRequest{KeyFile: filepath.Join(filepath.Dir(f.PubFile), "fleet.key"), Name: "owner"})
	if err != nil {
		t.Fatal(err)
	}
	out, code := runRelay(t, []string{"CASEFLEET_ADMIN_TOKEN=" + token}, "rollout", "status", "--relay", relay.URL())
	if code != 0 || !strings.Contains(out, "target v1.5.0: rolling out") || !strings.Contains(out, "healthy") {
		t.Errorf("rollout status = %d %s", code, out)
	}
	if out, code := runRelay(t, []string{"CASEFLEET_ADMIN_TOKEN="}, "rollout", "status", "--relay", relay.URL(), "--token", "cfadmin1.forged.x"); code == 0 || !strings.Contains(out, "401") {
		t.Errorf("rollout status with a forged token = %d %s", code, out)
	}
}
