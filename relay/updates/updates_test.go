package updates

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casefleet/shared/release"
)

func TestRolloutFile(t *testing.T) {
	good := "target: v1.6.0\npercent: 50\nlocations: [mall-3f]\ncanaries: [CT0700026]\nhalt_after: 3\n"
	r, err := ParseRollout([]byte(good))
	if err != nil || r.Target != "v1.6.0" || r.Percent != 50 || r.haltAfter() != 3 {
		t.Fatalf("ParseRollout = %+v, %v", r, err)
	}
	if r, err := ParseRollout(nil); err != nil || r.Target != "" {
		t.Errorf("an empty file = %+v, %v; want no rollout", r, err)
	}
	for _, tc := range []struct{ name, file, want string }{
		{"unknown key", "target: v1.6.0\npercnt: 50\n", "percnt"},
		{"not a version", "target: latest\n", "target"},
		{"percent over 100", "target: v1.6.0\npercent: 150\n", "percent"},
		{"negative halt_after", "target: v1.6.0\nhalt_after: -1\n", "halt_after"},
		{"bad canary", "target: v1.6.0\ncanaries: [\"../x\"]\n", "canaries"},
		{"machines chosen for nothing", "percent: 10\n", "target"},
		{"not YAML", "target: [\n", "rollout file"},
		{"oversized", "target: v1.6.0\n#" + strings.Repeat("x", maxRolloutFile), "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseRollout([]byte(tc.file)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseRollout = %v, want an error naming %q", err, tc.want)
			}
		})
	}

	path := filepath.Join(t.TempDir(), "rollout.yaml")
	if err := r.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadRollout(path)
	if err != nil || back.Target != r.Target || back.Percent != r.Percent || back.Canaries[0] != "CT0700026" {
		t.Errorf("saved and loaded = %+v, %v", back, err)
	}
	if r, err := LoadRollout(filepath.Join(t.TempDir(), "missing.yaml")); err != nil || r.Target != "" {
		t.Errorf("a missing file = %+v, %v; want no rollout", r, err)
	}
}

// Percent picks machines by a hash of their code alone: about the share
// asked for, and raising it keeps every machine already picked.
func TestRolloutChoosesByAStableHash(t *testing.T) {
	codes := make([]string, 2000)
	for i := range codes {
		codes[i] = fmt.Sprintf("CT%07d", 1000000+i)
	}
	picked := map[string]bool{}
	for _, pct := range []float64{10, 50, 100} {
		r := Rollout{Target: "v1.6.0", Percent: pct}
		n := 0
		for _, c := range codes {
			if r.Chooses(c, "") {
				n++
				picked[c] = true
			} else if picked[c] {
				t.Fatalf("%s picked at a lower percent, dropped at %v%%", c, pct)
			}
		}
		if share := float64(n) / float64(len(codes)) * 100; share < pct-4 || share > pct+4 {
			t.Errorf("%v%%: picked %.1f%% of machines", pct, share)
		}
	}
	r := Rollout{Target: "v1.6.0", Locations: []string{"mall-3f"}, Canaries: []string{"CT0700026"}}
	if !r.Chooses("CT0700026", "") || !r.Chooses("CT0799999", "mall-3f") || r.Chooses("CT0799999", "station") {
		t.Error("canaries and locations are chosen, others not at 0%")
	}
}

// release writes a signed release of version for platforms into dir.
func writeRelease(t *testing.T, dir string, priv ed25519.PrivateKey, version string, platforms ...string) {
	t.Helper()
	m := release.Manifest{Version: version}
	for _, p := range platforms {
		file := "casefleet-agent_" + strings.TrimPrefix(version, "v") + "_" + p + ".pkg"
		body := []byte(version + " for " + p)
		if err := os.MkdirAll(filepath.Join(dir, version), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, version, file), body, 0o644)
		h := sha256.Sum256(body)
		m.Packages = append(m.Packages, release.Package{Platform: p, File: file, Size: int64(len(body)), SHA256: hex.EncodeToString(h[:])})
	}
	signed, err := release.Sign(priv, m)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, version, ManifestName(version)), signed, 0o644)
}

func TestDecide(t *testing.T) {
	pub, priv, _ := release.GenerateKey()
	_, otherPriv, _ := release.GenerateKey()
	dir := t.TempDir()
	writeRelease(t, dir, priv, "v1.6.0", release.LinuxAMD64Deb)
	writeRelease(t, dir, priv, "v1.4.0", release.LinuxAMD64Deb)
	writeRelease(t, dir, otherPriv, "v1.7.0", release.LinuxAMD64Deb) // signed by a stranger
	rolloutFile := filepath.Join(t.TempDir(), "rollout.yaml")
	u, err := New(Options{ReleasesDir: dir, ReleasePub: pub, RolloutFile: rolloutFile})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	ctx := context.Background()
	set := func(r Rollout) {
		t.Helper()
		u.mu.Lock()
		u.rollout = r
		u.mu.Unlock()
	}
	deb := release.LinuxAMD64Deb

	if d := u.Decide(ctx, "CT0700026", "", "v1.5.0", deb); d.Target != "" {
		t.Errorf("no rollout: %+v", d)
	}
	set(Rollout{Target: "v1.6.0", Canaries: []string{"CT0700026"}})
	d := u.Decide(ctx, "CT0700026", "", "v1.5.0", deb)
	if d.Target != "v1.6.0" || d.Downgrade {
		t.Fatalf("a canary on v1.5.0: %+v, want v1.6.0", d)
	}
	if m, err := release.Verify(pub, []byte(d.Manifest)); err != nil || m.Version != "v1.6.0" {
		t.Errorf("the offered manifest: %+v %v", m, err)
	}
	for _, tc := range []struct {
		name, code, current, platform string
	}{
		{"not chosen", "CT0700027", "v1.5.0", deb},
		{"already there", "CT0700026", "v1.6.0", deb},
		{"another platform", "CT0700026", "v1.5.0", release.WindowsAMD64MSI},
		{"newer than the target", "CT0700026", "v1.6.1", deb},
	} {
		if d := u.Decide(ctx, tc.code, "", tc.current, tc.platform); d.Target != "" || d.Reason == "" {
			t.Errorf("%s: %+v, want to stay with a reason", tc.name, d)
		}
	}

	set(Rollout{Target: "v1.4.0", Percent: 100})
	if d := u.Decide(ctx, "CT0700026", "", "v1.5.0", deb); d.Target != "" {
		t.Errorf("an older target without allow_downgrade: %+v", d)
	}
	set(Rollout{Target: "v1.4.0", Percent: 100, AllowDowngrade: true})
	if d := u.Decide(ctx, "CT0700026", "", "v1.5.0", deb); d.Target != "v1.4.0" || !d.Downgrade {
		t.Errorf("an allowed downgrade: %+v", d)
	}
	set(Rollout{Target: "v1.7.0", Percent: 100})
	if d := u.Decide(ctx, "CT0700026", "", "v1.5.0", deb); d.Target != "" {
		t.Errorf("a release not signed by the release key was offered: %+v", d)
	}
	set(Rollout{Target: "v9.9.9", Percent: 100})
	if d := u.Decide(ctx, "CT0700026", "", "v1.5.0", deb); d.Target != "" {
		t.Errorf("a release not in the directory was offered: %+v", d)
	}

	// Two machines failing on the target halt it for the others.
	set(Rollout{Target: "v1.6.0", Percent: 100, HaltAfter: 2})
	u.reports.record(ctx, "v1.6.0", "CT0700001", StateHealthy)
	u.reports.record(ctx, "v1.6.0", "CT0700002", StateRolledBack)
	if d := u.Decide(ctx, "CT0700026", "", "v1.5.0", deb); d.Target != "v1.6.0" {
		t.Errorf("one failure of two: %+v, want still offered", d)
	}
	u.reports.record(ctx, "v1.6.0", "CT0700003", StateFailed)
	if d := u.Decide(ctx, "CT0700026", "", "v1.5.0", deb); d.Target != "" || !d.Halted {
		t.Errorf("two failures: %+v, want halted", d)
	}
	st, err := u.Status(ctx)
	if err != nil || !st.Halted || st.Failed["CT0700002"] != StateRolledBack || st.Failed["CT0700003"] != StateFailed {
		t.Errorf("Status = %+v, %v", st, err)
	}
}

// A changed rollout file is taken at the next reload; a broken one is
// logged and the previous rollout stays.
func TestReloadKeepsTheLastGoodRollout(t *testing.T) {
	pub, _, _ := release.GenerateKey()
	path := filepath.Join(t.TempDir(), "rollout.yaml")
	os.WriteFile(path, []byte("target: v1.6.0\npercent: 10\n"), 0o644)
	u, err := New(Options{ReleasesDir: t.TempDir(), ReleasePub: pub, RolloutFile: path})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	os.WriteFile(path, []byte("target: v1.7.0\npercent: 20\n"), 0o644)
	u.Reload()
	if r := u.Rollout(); r.Target != "v1.7.0" || r.Percent != 20 {
		t.Fatalf("after a change: %+v", r)
	}
	os.WriteFile(path, []byte("target: nonsense version\n"), 0o644)
	u.Reload()
	if r := u.Rollout(); r.Target != "v1.7.0" {
		t.Errorf("after a broken file: %+v, want the previous rollout", r)
	}
	if st, _ := u.Status(context.Background()); st.LoadErr == "" {
		t.Error("Status does not say the file does not load")
	}
	// A bad file at start stops the relay: nothing to keep.
	if _, err := New(Options{ReleasesDir: t.TempDir(), ReleasePub: pub, RolloutFile: path}); err == nil {
		t.Error("New with a broken rollout file: want an error")
	}
}

func FuzzParseRollout(f *testing.F) {
	f.Add([]byte("target: v1.6.0\npercent: 50\nlocations: [mall-3f]\ncanaries: [CT0700026]\nhalt_after: 3\n"))
	f.Add([]byte("target: v1.4.0\nallow_downgrade: true\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRollout(b)
		if err != nil {
			return
		}
		if verr := r.Validate(); verr != nil {
			t.Fatalf("ParseRollout accepted a rollout that does not validate: %v", verr)
		}
		r.Chooses("CT0700026", "mall-3f")
	})
}
