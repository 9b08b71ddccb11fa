package update

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"casefleet/shared/release"
)

// The whole way of an update the relay offers: the agent asks with its
// version and platform, keeps the running release's package for a
// rollback, downloads and verifies the new one, reports each step, waits
// while an order is in line, and once the line is empty writes
// request.json as docs/updates.md has it.
func TestAnOfferedUpdateIsVerifiedKeptAndHandedOverOnceTheLineIsEmpty(t *testing.T) {
	e := newEnv(t)
	_, oldPkg := e.release(running, 50_000, nil)
	signed, pkg := e.offer(newer, 300_000, nil)
	e.idle.Store(false)
	u := e.start()
	u.Connected()

	q := e.waitAsk()
	if q.Get("version") != running || q.Get("platform") != e.platform {
		t.Errorf("the agent asked with %v, want version %s and platform %s", q, running, e.platform)
	}
	if r := e.waitReport(StateDownloading); r.Version != newer || r.From != running {
		t.Errorf("downloading report %+v", r)
	}
	e.waitReport(StateReady)
	s := e.waitStatus("waiting for the line", func(s Status) bool {
		return s.State == StateReady && strings.Contains(s.Reason, "waiting for an empty line: 1 order in line")
	})
	if !strings.Contains(s.Summary, newer+" downloaded and verified: waiting for an empty line") {
		t.Errorf("summary %q", s.Summary)
	}
	if _, err := os.Stat(filepath.Join(e.dir, RequestFile)); err == nil {
		t.Fatal("request.json written while an order is in line")
	}
	// The running release's package and manifest are kept for a rollback.
	var old release.Manifest
	if data, err := os.ReadFile(Files{e.dir}.InstalledManifest()); err != nil {
		t.Fatalf("no kept manifest: %v", err)
	} else if old, err = release.Verify(e.u.pub, data); err != nil || old.Version != running {
		t.Fatalf("kept manifest %+v %v", old, err)
	}
	if b, err := os.ReadFile(filepath.Join(e.dir, InstalledDir, old.Packages[0].File)); err != nil || string(b) != string(oldPkg) {
		t.Fatalf("kept package: %d bytes, %v", len(b), err)
	}

	e.idle.Store(true)
	e.wake <- struct{}{}
	e.waitReport(StateInstalling)
	e.waitState(StateInstalling)
	var req Request
	if _, err := readJSON(filepath.Join(e.dir, RequestFile), &req); err != nil {
		t.Fatal(err)
	}
	m, _ := release.Verify(e.u.pub, signed)
	want := Request{Version: newer, From: running, Platform: e.platform,
		Package: filepath.Join(e.dir, m.Packages[0].File), Manifest: filepath.Join(e.dir, newer+".manifest.json"), DeadlineSeconds: 180}
	if req != want {
		t.Errorf("request.json = %+v\nwant %+v", req, want)
	}
	if b, _ := os.ReadFile(req.Package); string(b) != string(pkg) {
		t.Error("the package handed over is not the release's")
	}
	if b, _ := os.ReadFile(req.Manifest); string(b) != string(signed) {
		t.Error("the manifest handed over is not the signed one")
	}
	e.untouched()
	raw, _ := os.ReadFile(filepath.Join(e.dir, RequestFile))
	for _, key := range []string{`"version"`, `"from"`, `"platform"`, `"package"`, `"manifest"`, `"deadline_seconds"`} {
		if !strings.Contains(string(raw), key) {
			t.Errorf("request.json lacks %s: %s", key, raw)
		}
	}
}

// A download cut mid-way resumes where it stopped, with a Range request,
// also when the tunnel is gone for a while in between: the relay serves
// the package's bytes once, not again from zero.
func TestACutDownloadResumesWhereItStopped(t *testing.T) {
	e := newEnv(t)
	e.release(running, 10_000, nil)
	const size = 400_000
	e.offer(newer, size, nil)
	e.relay.mu.Lock()
	e.relay.cutAt, e.relay.cutOf = 150_000, newer
	e.relay.onCut = func() { e.client.down.Store(true) } // the tunnel goes with the cut
	e.relay.mu.Unlock()
	u := e.start()
	u.Connected()
	e.waitStatus("the download waits for the tunnel", func(s Status) bool {
		return s.State == StateDownloading && strings.Contains(s.Reason, "waiting for the tunnel")
	})
	fi, err := os.Stat(filepath.Join(e.dir, "casefleet-agent_1.6.0_"+archOf(e.platform)+".deb.part"))
	if err != nil || fi.Size() != 150_000 {
		t.Fatalf("partial download: %v %v, want 150000 bytes kept", fi, err)
	}
	e.client.down.Store(false)
	u.Connected()
	e.waitReport(StateReady)
	served, ranges := e.relay.stats()
	if served != 10_000+size {
		t.Errorf("the relay served %d package bytes, want %d (the kept package and the new one once)", served, 10_000+size)
	}
	if ranges[len(ranges)-1] != "bytes=150000-" {
		t.Errorf("package requests' ranges %q: the last should resume at 150000", ranges)
	}
}

func archOf(platform string) string { return strings.Split(platform, "-")[1] }

// A connection cut (no tunnel lost) resumes at once.
func TestADroppedConnectionResumesAtOnce(t *testing.T) {
	e := newEnv(t)
	e.release(running, 10_000, nil)
	e.offer(newer, 200_000, nil)
	e.relay.mu.Lock()
	e.relay.cutAt, e.relay.cutOf = 70_000, newer
	e.relay.mu.Unlock()
	e.start().Connected()
	e.waitReport(StateReady)
	served, ranges := e.relay.stats()
	if served != 210_000 || ranges[len(ranges)-1] != "bytes=70000-" {
		t.Errorf("served %d bytes with ranges %q, want 210000 and a resume at 70000", served, ranges)
	}
}

// Each fault ends the attempt with the agent on its working version
// (nothing handed to the installer, nothing outside update/ touched), a
// clear reason in the log, a failed report to the relay and in the
// status operators see.
func TestFaultsLeaveTheAgentOnItsVersion(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(e *env)
		reason string
	}{
		{"bad signature", func(e *env) {
			_, other, _ := release.GenerateKey()
			signed, _ := e.release(newer, 1000, nil)
			m, _ := release.Verify(e.pub, signed)
			forged, _ := release.Sign(other, m)
			e.relay.setOffer(newer, forged, false)
		}, "signature does not match the release key"},
		{"changed after signing", func(e *env) {
			signed, _ := e.release(newer, 1000, nil)
			var f map[string]string
			json.Unmarshal(signed, &f)
			f["signature"] = strings.Repeat("A", len(f["signature"]))
			forged, _ := json.Marshal(f)
			e.relay.setOffer(newer, forged, false)
		}, "signature does not match the release key"},
		{"hash mismatch", func(e *env) {
			signed, pkg := e.offer(newer, 1000, nil)
			bad := append([]byte(nil), pkg...)
			bad[500] ^= 0xff
			e.relay.put(newer, fileOf(t, e, signed), bad)
		}, "has SHA-256"},
		{"truncated on the relay", func(e *env) {
			signed, pkg := e.offer(newer, 1000, nil)
			e.relay.put(newer, fileOf(t, e, signed), pkg[:600])
		}, "truncated download: the relay sent 600 of"},
		{"longer than the manifest", func(e *env) {
			signed, pkg := e.offer(newer, 1000, nil)
			e.relay.put(newer, fileOf(t, e, signed), append(pkg, 1, 2, 3))
		}, "longer than the manifest's 1000 bytes"},
		{"another platform only", func(e *env) {
			e.offer(newer, 1000, func(m *release.Manifest) {
				m.Packages[0].Platform, m.Packages[0].File = release.WindowsAMD64MSI, "casefleet-agent-1.6.0-x64.msi"
			})
		}, "has none for " + "PLATFORM"},
		{"downgrade not asked for", func(e *env) {
			e.offer("v1.4.0", 1000, nil)
		}, "v1.4.0 is older than the running v1.5.0 and the relay did not ask for a downgrade"},
		{"manifest of another version", func(e *env) {
			signed, _ := e.release("v1.7.0", 1000, nil)
			e.relay.setOffer(newer, signed, false)
		}, "the relay offered v1.6.0 but its signed manifest is of v1.7.0"},
		{"no package of the running version to roll back to", func(e *env) {
			e.relay.mu.Lock()
			delete(e.relay.files, running+"/"+ManifestFile)
			e.relay.mu.Unlock()
			e.offer(newer, 1000, nil)
		}, "no package of the running v1.5.0 to roll back to, so not updating"},
		{"package missing on the relay", func(e *env) {
			signed, _ := e.offer(newer, 1000, nil)
			e.relay.mu.Lock()
			delete(e.relay.files, newer+"/"+fileOf(t, e, signed))
			e.relay.mu.Unlock()
		}, "the relay answered 404 Not Found"},
		{"full disk", func(e *env) {
			if _, err := os.Stat("/dev/full"); err != nil {
				t.Skip("no /dev/full here")
			}
			e.offer(newer, 100_000, nil)
			// The download is written to /dev/full, which fails every
			// write as a full disk does (ENOSPC).
			e.openFile = func(name string, flag int, perm fs.FileMode) (*os.File, error) {
				if strings.HasSuffix(name, partSuffix) && !strings.Contains(name, InstalledDir) {
					return os.OpenFile("/dev/full", os.O_WRONLY, 0)
				}
				return os.OpenFile(name, flag, perm)
			}
		}, "no space left on device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.release(running, 500, nil)
			tt.setup(e)
			reason := strings.ReplaceAll(tt.reason, "PLATFORM", e.platform)
			e.start().Connected()
			r := e.waitReport(StateFailed)
			if !strings.Contains(r.Reason, reason) || r.From != running {
				t.Errorf("reported %+v, want a reason with %q", r, reason)
			}
			s := e.waitState(StateFailed)
			if !strings.Contains(s.Reason, reason) || !strings.Contains(s.Summary, "FAILED, still on v1.5.0") || !s.Problem() {
				t.Errorf("status %+v", s)
			}
			if !strings.Contains(e.log.String(), "update not installed: staying on the running version") || !strings.Contains(e.log.String(), reason) {
				t.Errorf("the log does not say why:\n%s", e.log.String())
			}
			e.stayed()
			if left, _ := filepath.Glob(filepath.Join(e.dir, "*"+partSuffix)); len(left) > 0 {
				t.Errorf("a bad download is left: %s", left)
			}
		})
	}
}

// fileOf is the package file a signed manifest names for this platform.
func fileOf(t *testing.T, e *env, signed []byte) string {
	t.Helper()
	m, err := release.Verify(e.pub, signed)
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.For(e.platform)
	if err != nil {
		t.Fatal(err)
	}
	return p.File
}

// A downgrade the relay asks for explicitly goes ahead.
func TestADowngradeAskedForGoesAhead(t *testing.T) {
	e := newEnv(t)
	e.release(running, 500, nil)
	signed, _ := e.release("v1.4.0", 1000, nil)
	e.relay.setOffer("v1.4.0", signed, true)
	e.start().Connected()
	e.waitReport(StateInstalling)
	var req Request
	readJSON(filepath.Join(e.dir, RequestFile), &req)
	if req.Version != "v1.4.0" || req.From != running {
		t.Errorf("request %+v", req)
	}
}

// When the relay stops offering an update (the rollout halted) before the
// line is empty, the prepared update is not installed.
func TestAHaltedRolloutDropsThePreparedUpdate(t *testing.T) {
	e := newEnv(t)
	e.release(running, 500, nil)
	e.offer(newer, 1000, nil)
	e.idle.Store(false)
	u := e.start()
	u.Connected()
	e.waitReport(StateReady)
	e.relay.setOffer("", nil, false)
	u.Connected()
	e.waitState(StateCurrent)
	e.idle.Store(true)
	e.wake <- struct{}{}
	u.Connected()
	for range 3 { // the offer, the halt, and a round with the line empty
		e.waitAsk()
	}
	e.stayed()
}

// Updates are off, said once in the log, without the package-format file
// (a build run by hand), without the release key, or by update.enabled.
// The agent then never asks the relay for a version, but it still reports
// an installer's result.
func TestUpdatesAreOffWithoutPackageFormatOrKey(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(e *env, o *Options)
		reason string
	}{
		{"no package-format file", func(e *env, o *Options) { o.FormatFile = filepath.Join(e.dataDir, "none") }, "not installed from a package"},
		{"no release key", func(e *env, o *Options) { o.ReleasePub = filepath.Join(e.dataDir, "none.pub") }, "no release key (update.release_pub)"},
		{"switched off", func(e *env, o *Options) { o.Enabled = false }, "update.enabled is false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.offer(newer, 1000, nil)
			os.MkdirAll(e.dir, 0o750)
			writeJSON(filepath.Join(e.dir, ResultFile), Result{Version: running, State: StateHealthy})
			u := e.start(func(o *Options) { tt.mod(e, o) })
			u.Connected()
			e.waitReport(StateHealthy)
			select {
			case q := <-e.relay.asks:
				t.Errorf("updates off, yet the agent asked the relay: %v", q)
			default:
			}
			s := u.Status()
			if s.State != StateOff || s.Enabled || !strings.Contains(s.Reason, tt.reason) || !strings.HasPrefix(s.Summary, "updates off: ") {
				t.Errorf("status %+v, want off because %q", s, tt.reason)
			}
			if n := strings.Count(e.log.String(), "agent updates are off"); n != 1 {
				t.Errorf("said %d times that updates are off", n)
			}
		})
	}
}

// The installer's result.json is reported to the relay once: not again
// at the next question, nor by the next agent started.
func TestTheInstallersResultIsReportedOnce(t *testing.T) {
	e := newEnv(t)
	os.MkdirAll(e.dir, 0o750)
	writeJSON(filepath.Join(e.dir, RequestFile), Request{Version: newer, From: running})
	writeJSON(filepath.Join(e.dir, ResultFile), Result{Version: newer, State: StateRolledBack, Reason: "health: tunnel: not connected within 180s"})
	u := e.start()
	u.Connected()
	r := e.waitReport(StateRolledBack)
	if r.Version != newer || r.From != running || !strings.Contains(r.Reason, "tunnel") {
		t.Errorf("report %+v", r)
	}
	s := e.waitStatus("the result shown", func(s Status) bool { return s.Result != nil && s.State == StateCurrent })
	if !strings.Contains(s.Summary, "last update: v1.6.0 rolled_back (health: tunnel: not connected within 180s)") || !s.Problem() {
		t.Errorf("status %+v", s)
	}
	u.Connected()
	e.waitAsk()
	e.waitAsk()
	// A second agent on the same directory (the next start).
	e.start().Connected()
	e.waitAsk()
	if got := e.relay.reported(); len(got) != 1 {
		t.Errorf("reports %+v, want the result once", got)
	}
}

// A version rolled back here is not installed again by itself, though the
// relay still offers it (its rollout not halted yet).
func TestARolledBackVersionIsNotInstalledAgain(t *testing.T) {
	e := newEnv(t)
	e.release(running, 500, nil)
	e.offer(newer, 1000, nil)
	os.MkdirAll(e.dir, 0o750)
	writeJSON(filepath.Join(e.dir, ResultFile), Result{Version: newer, State: StateRolledBack, Reason: "exited at start"})
	u := e.start()
	u.Connected()
	e.waitReport(StateRolledBack)
	e.waitAsk()
	s := e.waitStatus("not again", func(s Status) bool { return strings.Contains(s.Reason, "not installing it again: exited at start") })
	if s.State != StateRolledBack {
		t.Errorf("status %+v", s)
	}
	served, _ := e.relay.stats()
	if served != 0 {
		t.Errorf("downloaded %d bytes of a rolled-back version", served)
	}
	e.stayed()
}

// Outside the maintenance window the update waits even with an empty line.
func TestTheMaintenanceWindowHoldsTheInstall(t *testing.T) {
	e := newEnv(t)
	e.release(running, 500, nil)
	e.offer(newer, 1000, nil)
	var now atomic.Pointer[time.Time]
	noon := time.Date(2026, 12, 6, 12, 0, 0, 0, time.Local)
	now.Store(&noon)
	u := e.start(func(o *Options) { o.Window, o.Now = "02:00-05:00", func() time.Time { return *now.Load() } })
	u.Connected()
	s := e.waitStatus("the window", func(s Status) bool {
		return s.State == StateReady && s.Reason == "waiting for the maintenance window 02:00-05:00"
	})
	if !strings.Contains(s.Summary, "waiting for the maintenance window") {
		t.Errorf("summary %q", s.Summary)
	}
	e.stayed()
	// At 02:30 the window is open and the line empty: hand-over.
	night := time.Date(2026, 12, 7, 2, 30, 0, 0, time.Local)
	now.Store(&night)
	e.wake <- struct{}{}
	e.waitReport(StateInstalling)
}

// The package is checked once more just before the hand-over: one changed
// on disk while it waited is not handed over.
func TestAPackageChangedWhileWaitingIsNotHandedOver(t *testing.T) {
	e := newEnv(t)
	e.release(running, 500, nil)
	signed, _ := e.offer(newer, 1000, nil)
	e.idle.Store(false)
	e.start().Connected()
	e.waitReport(StateReady)
	os.WriteFile(filepath.Join(e.dir, fileOf(t, e, signed)), make([]byte, 1000), 0o640)
	e.idle.Store(true)
	e.wake <- struct{}{}
	if r := e.waitReport(StateFailed); !strings.Contains(r.Reason, "the downloaded package changed on disk") {
		t.Errorf("report %+v", r)
	}
	e.stayed()
}

func TestInWindow(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 1, 1, h, m, 0, 0, time.Local) }
	tests := []struct {
		from, to int
		t        time.Time
		want     bool
	}{
		{120, 300, at(2, 0), true}, {120, 300, at(4, 59), true}, {120, 300, at(5, 0), false}, {120, 300, at(1, 59), false},
		{22 * 60, 4 * 60, at(23, 30), true}, {22 * 60, 4 * 60, at(3, 0), true}, {22 * 60, 4 * 60, at(12, 0), false},
	}
	for _, tt := range tests {
		if got := inWindow([2]int{tt.from, tt.to}, tt.t); got != tt.want {
			t.Errorf("inWindow(%d-%d, %s) = %v", tt.from, tt.to, tt.t.Format("15:04"), got)
		}
	}
}

// The installer's result is reported as soon as it is written, not at
// the next question; an agent started while the installer has the
// request says so and prepares nothing else meanwhile.
func TestTheResultIsReportedAsSoonAsTheInstallerWritesIt(t *testing.T) {
	e := newEnv(t)
	e.release(running, 500, nil)
	e.offer(newer, 1000, nil)
	e.start().Connected()
	e.waitReport(StateInstalling)

	// The next start (the old agent, say, while the installer waits for
	// the new one's health) shows the hand-over.
	u := e.start()
	u.Connected()
	e.waitStatus("the hand-over shown", func(s Status) bool {
		return s.State == StateInstalling && s.Target == newer && s.Reason == "handed to the installer, no result yet"
	})
	writeJSON(filepath.Join(e.dir, ResultFile), Result{Version: newer, From: running, State: StateHealthy, Reason: "v1.6.0 reported healthy"})
	if r := e.waitReport(StateHealthy); r.Version != newer || r.From != running {
		t.Errorf("report %+v", r)
	}
}

// When the relay says to stay, its reason (a halted rollout, say) is
// what operators see.
func TestTheRelaysReasonToStayIsShown(t *testing.T) {
	e := newEnv(t)
	e.relay.mu.Lock()
	e.relay.offer = map[string]any{"target": "", "halted": true, "reason": "the rollout of v1.6.0 halted itself: 2 machines failed or rolled back"}
	e.relay.mu.Unlock()
	e.start().Connected()
	s := e.waitState(StateCurrent)
	if !strings.Contains(s.Summary, "no update offered (asked the relay at ") || !strings.HasSuffix(s.Summary, "): the rollout of v1.6.0 halted itself: 2 machines failed or rolled back") {
		t.Errorf("summary %q", s.Summary)
	}
}

// A reason is cut to what the relay takes in a report (4 KiB at most).
func TestAReportsReasonIsCut(t *testing.T) {
	u := &Updater{}
	u.queue(report{Version: newer, From: running, State: StateFailed, Reason: strings.Repeat("é", 5000)})
	if r := u.pending[0].Reason; len(r) > maxReason+3 || !strings.HasSuffix(r, "...") || !utf8.ValidString(r) {
		t.Errorf("reason of %d bytes", len(r))
	}
}
