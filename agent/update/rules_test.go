package update

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPlatformIsGOOSGOARCHAndThePackageFormat(t *testing.T) {
	tests := []struct {
		goos, goarch, format, want string
	}{
		{"linux", "amd64", "deb", "linux-amd64-deb"},
		{"linux", "arm64", "rpm", "linux-arm64-rpm"},
		{"windows", "amd64", "msi", "windows-amd64-msi"},
		{"linux", "386", "deb", ""},
		{"linux", "amd64", "msi", ""},
		{"linux", "amd64", "tar", ""},
	}
	for _, tt := range tests {
		got, err := platformFor(tt.goos, tt.goarch, tt.format)
		if got != tt.want || (tt.want == "") != (err != nil) {
			t.Errorf("platformFor(%s, %s, %s) = %q, %v", tt.goos, tt.goarch, tt.format, got, err)
		}
	}
	if _, err := Platform(filepath.Join(t.TempDir(), FormatFileName)); !errors.Is(err, errNotPackaged) {
		t.Errorf("without the file: %v, want not installed from a package", err)
	}
}

// On Windows the service runs msiexec from System32 on the verified MSI,
// quiet, without restarting the PC, logging verbosely. (msiexec itself
// only runs on Windows; here the command line is built and checked.)
func TestMSICommand(t *testing.T) {
	got, err := MSICommand(`C:\Windows`, `C:\ProgramData\casefleet\data\update\casefleet-agent-1.6.0-x64.msi`, `C:\ProgramData\casefleet\data\update\msiexec-v1.6.0.log`)
	want := []string{`C:\Windows\System32\msiexec.exe`, "/i", `C:\ProgramData\casefleet\data\update\casefleet-agent-1.6.0-x64.msi`, "/qn", "/norestart", "/l*v", `C:\ProgramData\casefleet\data\update\msiexec-v1.6.0.log`}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("MSICommand = %q, %v\nwant %q", got, err, want)
	}
	if got, _ := MSICommand("", `D:\u\a.MSI`, `D:\u\a.log`); got[0] != `C:\Windows\System32\msiexec.exe` {
		t.Errorf("default SystemRoot: %q", got[0])
	}
	for _, bad := range [][3]string{
		{`C:\Windows`, `update\a.msi`, `C:\u\a.log`},         // relative package
		{`C:\Windows`, `C:\u\a.msi`, `a.log`},                // relative log
		{`C:\Windows`, `C:\u\a.exe`, `C:\u\a.log`},           // not an MSI
		{`C:\Windows`, `C:\u\a" /quiet x.msi`, `C:\u\a.log`}, // a quote would end the argument
		{`C:\Windows`, "C:\\u\\a\n.msi", `C:\u\a.log`},
		{`Windows`, `C:\u\a.msi`, `C:\u\a.log`},
	} {
		if got, err := MSICommand(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("MSICommand(%q) = %q, want a refusal", bad, got)
		}
	}
}

// After a start the agent runs its health checks until they pass, and
// writes health.json for the installer; a check still failing at the
// deadline makes it unhealthy, naming the check. After an install of its
// version operators see them too; after an ordinary restart only the file
// is written.
func TestHealthChecksAfterAStart(t *testing.T) {
	t.Run("healthy once the tunnel is up", func(t *testing.T) {
		e := newEnv(t)
		os.MkdirAll(e.dir, 0o750)
		writeJSON(filepath.Join(e.dir, RequestFile), Request{Version: "v1.6.0", From: "v1.5.0"})
		var tunnelUp atomic.Bool
		up := make(chan struct{})
		e.start(func(o *Options) {
			o.Version = "v1.6.0"
			o.Health = []HealthCheck{
				{Name: "queue", Check: func(context.Context) error { return nil }},
				{Name: "tunnel", Check: func(context.Context) error {
					if !tunnelUp.Load() {
						select {
						case up <- struct{}{}:
						default:
						}
						return errors.New("not connected")
					}
					return nil
				}},
			}
		})
		<-up // asked once and failed
		tunnelUp.Store(true)
		s := e.waitStatus("health", func(s Status) bool { return s.Health != nil })
		var h Health
		if _, err := readJSON(filepath.Join(e.dir, HealthFile), &h); err != nil {
			t.Fatal(err)
		}
		if !h.Healthy || h.Version != "v1.6.0" || len(h.Checks) != 2 || !s.Health.Healthy {
			t.Errorf("health.json %+v", h)
		}
	})
	t.Run("unhealthy at the deadline", func(t *testing.T) {
		e := newEnv(t)
		os.MkdirAll(e.dir, 0o750)
		writeJSON(filepath.Join(e.dir, RequestFile), Request{Version: "v1.5.0", From: "v1.4.0"})
		e.start(func(o *Options) {
			o.HealthDeadline = 50 * time.Millisecond
			o.Health = []HealthCheck{
				{Name: "queue", Check: func(context.Context) error { return nil }},
				{Name: "printer link", Check: func(context.Context) error { return errors.New("MQTT not connected") }},
			}
		})
		s := e.waitStatus("health", func(s Status) bool { return s.Health != nil })
		raw, _ := os.ReadFile(filepath.Join(e.dir, HealthFile))
		var h Health
		readJSON(filepath.Join(e.dir, HealthFile), &h)
		if h.Healthy || h.Reason != "printer link: MQTT not connected" || !strings.Contains(string(raw), `"healthy": false`) {
			t.Errorf("health.json %s", raw)
		}
		if !s.Problem() || !strings.Contains(s.Summary, "this start's health checks FAILED: printer link: MQTT not connected") {
			t.Errorf("status %+v", s)
		}
	})
}

// On Windows no root installer writes result.json: the new agent writes
// it from its own health checks after an install of its very version
// (there is no automatic rollback there yet, which the reason says).
// The function runs here; only the switch that calls it is Windows'.
func TestOnWindowsTheNewAgentWritesTheResult(t *testing.T) {
	for _, healthy := range []bool{true, false} {
		e := newEnv(t)
		os.MkdirAll(e.dir, 0o750)
		writeJSON(filepath.Join(e.dir, RequestFile), Request{Version: "v1.6.0", From: "v1.5.0"})
		opt := e.options()
		opt.Version = "v1.6.0"
		u, err := New(opt)
		if err != nil {
			t.Fatal(err)
		}
		u.resultOfOwnInstall(Health{Version: "v1.6.0", Healthy: healthy, Reason: "tunnel: not connected to the relay"})
		var r Result
		if _, err := readJSON(filepath.Join(e.dir, ResultFile), &r); err != nil {
			t.Fatal(err)
		}
		switch {
		case healthy && (r != Result{Version: "v1.6.0", From: "v1.5.0", State: StateHealthy}):
			t.Errorf("healthy: %+v", r)
		case !healthy && (r.State != StateFailed || !strings.Contains(r.Reason, "health checks failed: tunnel: not connected") || !strings.Contains(r.Reason, "no automatic rollback on Windows")):
			t.Errorf("unhealthy: %+v", r)
		}
		// An ordinary restart (no request for this version) writes none.
		os.Remove(filepath.Join(e.dir, ResultFile))
		opt.Version = "v1.7.0"
		u2, _ := New(opt)
		u2.resultOfOwnInstall(Health{Version: "v1.7.0", Healthy: true})
		if _, err := os.Stat(filepath.Join(e.dir, ResultFile)); err == nil {
			t.Error("a result for a start that was not an install")
		}
	}
}

func TestAnOrdinaryRestartsHealthIsNotShown(t *testing.T) {
	e := newEnv(t)
	e.start(func(o *Options) {
		o.HealthDeadline = time.Millisecond
		o.Health = []HealthCheck{{Name: "tunnel", Check: func(context.Context) error { return errors.New("not connected to the relay") }}}
	})
	path := filepath.Join(e.dir, HealthFile)
	var h Health
	e.waitStatus("health.json", func(Status) bool { _, err := readJSON(path, &h); return err == nil })
	if h.Healthy || e.u.Status().Health != nil || e.u.Status().Attention {
		t.Errorf("health %+v, status %+v", h, e.u.Status())
	}
}

// The relay tells the agent over the tunnel that the rollout changed
// (POST CheckPath): the agent asks again at once, not at its next
// question an interval later; nothing else is done on the relay's word.
func TestTheRelaysNudgeMakesTheAgentAskAgain(t *testing.T) {
	e := newEnv(t)
	u := e.start()
	u.Connected()
	e.waitAsk()
	h := u.CheckHandler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, CheckPath, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET %s = %d, want 405", CheckPath, rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, CheckPath, nil))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST %s = %d, want 202", CheckPath, rec.Code)
	}
	e.waitAsk() // the interval is an hour: only the nudge asks
	e.stayed()
}
