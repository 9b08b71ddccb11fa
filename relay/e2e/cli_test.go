package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"casefleet/relay/relaytest"
	"casefleet/shared/enroll"
	"casefleet/shared/release"
	"casefleet/shared/testenv"
)

func runRelay(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(relayBin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func TestKeygenAndIssue(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fleet")
	if out, code := runRelay(t, nil, "keygen", "--out", dir); code != 0 || !strings.Contains(out, "fleet.pub") {
		t.Fatalf("keygen = %d %s", code, out)
	}
	if out, code := runRelay(t, nil, "keygen", "--out", dir); code == 0 || !strings.Contains(out, "refusing to overwrite") {
		t.Errorf("second keygen into the same directory = %d %s", code, out)
	}
	cmd := exec.Command(relayBin, "issue", "--key", filepath.Join(dir, "fleet.key"), "--machine", "CT0700026", "--location", "mall-3f", "--ttl", "24h")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("issue: %v %s", err, stderr.String())
	}
	out := string(stdout)
	pub, err := enroll.LoadPublicKey(filepath.Join(dir, "fleet.pub"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := enroll.Verify(pub, strings.TrimSpace(out), time.Now())
	if err != nil || c.Machine != "CT0700026" || c.Location != "mall-3f" || c.ExpiresAt-c.IssuedAt != 24*3600 {
		t.Errorf("issued token: %+v, %v", c, err)
	}
	if !strings.Contains(stderr.String(), "jti:"+c.ID) {
		t.Errorf("issue does not tell the token's id for revocation: %q", stderr.String())
	}
	for _, args := range [][]string{
		{"issue", "--key", filepath.Join(dir, "fleet.key"), "--machine", "not-a-code"},
		{"issue", "--key", filepath.Join(dir, "fleet.pub"), "--machine", "CT0700026"},
		{"issue", "--key", filepath.Join(dir, "fleet.key"), "--machine", "CT0700026", "--ttl", "-1h"},
		{"keygen"},
		{"frobnicate"},
	} {
		if out, code := runRelay(t, nil, args...); code == 0 || out == "" {
			t.Errorf("%v = %d %q, want a failure that says why", args, code, out)
		}
	}
}

// release-keygen makes the key pair that signs agent releases: the
// private half signs manifests that the public half verifies; it never
// overwrites a key.
func TestReleaseKeygen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "release")
	if out, code := runRelay(t, nil, "release-keygen", "--out", dir); code != 0 || !strings.Contains(out, "release.pub") {
		t.Fatalf("release-keygen = %d %s", code, out)
	}
	if out, code := runRelay(t, nil, "release-keygen", "--out", dir); code == 0 || !strings.Contains(out, "refusing to overwrite") {
		t.Errorf("second release-keygen into the same directory = %d %s", code, out)
	}
	if out, code := runRelay(t, nil, "release-keygen"); code == 0 || !strings.Contains(out, "--out") {
		t.Errorf("release-keygen without --out = %d %s", code, out)
	}
	priv, err := release.LoadPrivateKey(filepath.Join(dir, release.PrivateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := release.LoadPublicKey(filepath.Join(dir, release.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	m := release.Manifest{Version: "v1.5.0", Packages: []release.Package{{
		Platform: release.LinuxAMD64Deb, File: "casefleet-agent_1.5.0_amd64.deb", Size: 1, SHA256: strings.Repeat("0", 64),
	}}}
	signed, err := release.Sign(priv, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := release.Verify(pub, signed); err != nil {
		t.Errorf("a manifest signed with release.key does not verify with release.pub: %v", err)
	}
}

func TestRunRefusesBadSettings(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no fleet key", nil, []string{"run", "--listen", "127.0.0.1:0"}, "fleet_pub"},
		{"redis without advertise URL", []string{"CASEFLEET_RELAY_REDIS_URL=redis://127.0.0.1:6379"},
			[]string{"run", "--fleet-pub", "/nonexistent"}, "advertise_url"},
		{"bad duration from the environment", []string{"CASEFLEET_RELAY_LEASE_TTL=soon"}, []string{"run", "--fleet-pub", "/x"}, "lease_ttl"},
		{"missing key file", nil, []string{"run", "--listen", "127.0.0.1:0", "--fleet-pub", "/nonexistent/fleet.pub"}, "fleet_pub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runRelay(t, tt.env, tt.args...)
			if code == 0 || !strings.Contains(out, tt.want) {
				t.Errorf("= %d %s, want a failure naming %s", code, out, tt.want)
			}
		})
	}
}

// TestSIGHUPReloadsRevocations and SIGTERM stops cleanly.
func TestSignals(t *testing.T) {
	f := relaytest.NewFleet(t)
	revFile := filepath.Join(t.TempDir(), "revocations")
	os.WriteFile(revFile, nil, 0o644)
	relay := startRelayProc(t, f, testenv.FreeAddr(t), "--revocations", revFile, "--revocations-poll", "1h")
	agent := relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: relay.URL(), Code: "CT0700026", Token: f.Token(t, "CT0700026", "")})
	relaytest.WaitRoutable(t, relay.URL(), "CT0700026")

	os.WriteFile(revFile, []byte("machine:CT0700026\n"), 0o644)
	relay.Signal(syscall.SIGHUP)
	agent.WaitState(t, "refused after SIGHUP", relaytest.Refused("token_revoked"))

	relay.Signal(syscall.SIGTERM)
	select {
	case <-relay.Done():
	case <-time.After(relaytest.Wait):
		t.Fatal("the relay did not stop on SIGTERM")
	}
	if code := relay.ExitCode(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d", code)
	}
	if !strings.Contains(relay.Output(), "relay stopped") {
		t.Errorf("no clean stop in the log:\n%s", relay.Output())
	}
}
