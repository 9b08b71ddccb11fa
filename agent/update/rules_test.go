package update

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"casefleet/agent/installer"
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
	if _, err := Platform(filepath.Join(t.TempDir(), FormatFileName)); !errors.Is(err, ErrNotPackaged) {
		t.Errorf("without the file: %v, want not installed from a package", err)
	}
}

// On Windows the service starts update-install --format msi itself, from
// a copy of its executable in the update directory (msiexec replaces the
// installed one), its output appended to update-install.log. The detached
// start is Windows' own; here the command is built and run with a
// stand-in for the executable that records its arguments.
func TestWindowsInstallerCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the stand-in is a shell script")
	}
	e := newEnv(t)
	opt := e.options()
	os.MkdirAll(opt.Dir, 0o750)
	exe := filepath.Join(t.TempDir(), "casefleet-agent.exe")
	body := "#!/bin/sh\necho \"$0 $*\"\necho started >&2\n"
	if err := os.WriteFile(exe, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a second update replaces the copy
		cmd, log, err := installerCmd(opt, exe)
		if err != nil {
			t.Fatal(err)
		}
		err = cmd.Start()
		log.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	copyExe := filepath.Join(opt.Dir, "casefleet-agent-update-install.exe")
	if got, _ := os.ReadFile(copyExe); string(got) != body {
		t.Errorf("the copy holds %q", got)
	}
	want := copyExe + " update-install --format msi --dir " + opt.Dir + " --work " + filepath.Join(filepath.Dir(opt.Dir), "update-install") +
		" --release-pub " + opt.ReleasePub + " --agent-exe " + exe + "\nstarted\n"
	if got, _ := os.ReadFile(filepath.Join(opt.Dir, "update-install.log")); string(got) != want+want {
		t.Errorf("update-install.log:\n%s\nwant twice:\n%s", got, want)
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

// Where no service manager starts the installer at boot (Windows), an
// agent that starts to find a job the installer began and did not finish
// (a power cut during an update) starts the installer to finish it,
// unless an installer is at work (it waits for this start's health), and
// never for a job the installer did not begin.
func TestAnInterruptedInstallIsFinishedAtStart(t *testing.T) {
	for _, tc := range []struct {
		name           string
		began, running bool
		want           int
	}{
		{"interrupted: the installer is started", true, false, 1},
		{"its installer is at work", true, true, 0},
		{"never begun by the installer", false, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			req := Request{Version: "v1.6.0", From: running, Platform: "windows-amd64-msi", Package: filepath.Join(e.dir, "p.msi"), DeadlineSeconds: 30}
			b, _ := json.Marshal(req)
			os.MkdirAll(e.dir, 0o750)
			os.WriteFile(filepath.Join(e.dir, RequestFile), b, 0o644)
			if tc.began {
				os.WriteFile(filepath.Join(e.dir, StatusFile), []byte(`{"state":"installing","version":"v1.6.0"}`), 0o644)
			}
			var started atomic.Int32
			opts := func(o *Options) {
				o.FinishInterrupted = true
				o.Install = func(context.Context, Request) error { started.Add(1); return nil }
			}
			if tc.running {
				work := installerWork(e.options())
				os.MkdirAll(work, 0o700)
				release, err := installer.LockWork(work)
				if err != nil {
					t.Fatal(err)
				}
				defer release()
			}
			u := e.start(opts)
			u.Connected()
			e.waitAsk() // Run is past its start
			if got := int(started.Load()); got != tc.want {
				t.Errorf("installer started %d times, want %d", got, tc.want)
			}
		})
	}
}
