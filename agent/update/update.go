// Package update is the agent's side of its own updates (docs/updates.md):
// it asks the relay, over the tunnel, which version this kiosk should run
// (at every connection and every five minutes), checks the signed release
// manifest against the release key, downloads its platform's package into
// the update directory (resuming after a cut) and checks its size and
// SHA-256, makes sure the running version's package is kept for a
// rollback, waits until no order is at the printer and the line is empty
// (and the maintenance window, if one is set), then hands over to the
// root installer by writing request.json. After a start it runs the
// health checks and writes health.json, and it reports the installer's
// result.json to the relay once.
//
// Every fault (a bad signature, a package for another platform or of a
// lower version not asked for, a size or hash mismatch, a truncated
// download, a full disk) ends the attempt with the agent on its working
// version, a reason in the log, a report to the relay and the state that
// `casefleet-agent status` and the dashboard show. Nothing outside the
// update directory is touched.
//
// The update directory (<data_dir>/update) holds:
//
//	FILE.part                   a download not yet complete
//	FILE, VERSION.manifest.json the verified package to install and its manifest
//	installed/FILE, installed/manifest.json
//	                            the running release's package, kept for a rollback
//	request.json                agent -> installer (written last, atomically)
//	status.json, result.json    the installer's
//	health.json                 the agent's health checks after a start
//	reported.json               the result.json already reported
package update

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"casefleet/agent/config"
	"casefleet/agent/installer"
	"casefleet/shared/release"
)

// Defaults of Options.
const (
	DefaultInterval        = 5 * time.Minute
	DefaultIdlePoll        = 15 * time.Second
	DefaultDeadlineSeconds = 180
	DefaultHealthDeadline  = 2 * time.Minute
	// resultPoll is how often result.json is looked for while the
	// installer has a request: its result is reported within seconds.
	resultPoll = 5 * time.Second
)

// Options configure an Updater.
type Options struct {
	Version string // the running agent's
	// Dir is the update directory, <data_dir>/update.
	Dir string
	// Enabled is update.enabled. Off, the agent still runs its health
	// checks and reports the installer's results.
	Enabled bool
	// ReleasePub is the release public key's file (update.release_pub).
	ReleasePub string
	// FormatFile holds the package format; DefaultFormatFile() if empty.
	FormatFile string
	// Window is update.window ("02:00-05:00", local time); empty: any time.
	Window string
	// Relay sends the requests to the relay's update API.
	Relay Relay
	// Idle reports whether the printer has no order and the line is
	// empty; if not, why (shown while the update waits).
	Idle func() (idle bool, why string, err error)
	// Changes, if set, wakes the wait for an empty line at once (the
	// queue's Subscribe); otherwise Idle is asked every IdlePoll.
	Changes func() (<-chan struct{}, func())
	// Install, if set, runs after request.json is written. Nil: the
	// platform's own (nothing on Linux, where a systemd path unit starts
	// the installer; on Windows the service starts it, see installerCmd).
	Install func(ctx context.Context, r Request) error
	// FinishInterrupted makes Run start the installer (Install) when it
	// finds a job the installer began and did not finish (a power cut
	// during an update) and no installer is at work: where no service
	// manager starts the installer at boot. Always on Windows.
	FinishInterrupted bool
	// Health are the checks a start must pass (see RunHealth).
	Health         []HealthCheck
	HealthDeadline time.Duration // DefaultHealthDeadline if zero
	// DeadlineSeconds goes into request.json: how long the installer
	// waits for the new agent's health. DefaultDeadlineSeconds if zero.
	DeadlineSeconds int
	Interval        time.Duration // between questions to the relay; DefaultInterval
	IdlePoll        time.Duration // DefaultIdlePoll
	Logger          *slog.Logger
	Now             func() time.Time
	// OnChange, if set, is called after every change of Status (from the
	// updater's goroutine; it must return quickly).
	OnChange func()
}

// Status is what operators see of updates.
type Status struct {
	Version  string     `json:"version"` // the running agent's
	Platform string     `json:"platform,omitempty"`
	Enabled  bool       `json:"enabled"`
	State    string     `json:"state"` // a State* constant, or "" before the first answer
	Target   string     `json:"target,omitempty"`
	Reason   string     `json:"reason,omitempty"`
	Since    time.Time  `json:"since"`
	Checked  *time.Time `json:"checked,omitempty"` // the relay's last answer
	Have     int64      `json:"have,omitempty"`    // bytes downloaded
	Size     int64      `json:"size,omitempty"`
	Result   *Result    `json:"result,omitempty"` // the installer's last
	Health   *Health    `json:"health,omitempty"` // this start's health checks
	Summary  string     `json:"summary"`          // the whole in one line
	// Attention: a failed update, a rollback, failed health checks (see
	// Problem); shown in red.
	Attention bool `json:"attention"`
}

// Updater is the agent's updater. Create it with New and run Run; call
// Connected when the tunnel comes up.
type Updater struct {
	opt        Options
	log        *slog.Logger
	files      Files
	platform   string
	pub        ed25519.PublicKey
	window     *[2]int
	kick       chan struct{}
	openFile   func(string, int, fs.FileMode) (*os.File, error) // os.OpenFile; tests give a full disk
	resultPoll time.Duration

	mu      sync.Mutex
	st      Status
	lastPct int64

	// Owned by Run's goroutine.
	ready   *Request // verified and waiting for an empty line
	pending []report // not yet accepted by the relay
	sent    report   // the last report accepted
	silent  bool     // the relay did not answer the last question (logged once)
	tried   string   // the result.json (hash) last tried: retried at questions only
}

// New checks the options. Updates are off, said once in the log, when
// update.enabled is false, when there is no package-format file (not
// installed from a package) or no release key.
func New(opt Options) (*Updater, error) {
	if opt.Dir == "" || opt.Relay == nil || opt.Idle == nil {
		return nil, errors.New("update: Dir, Relay and Idle are required")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.FormatFile == "" {
		opt.FormatFile = DefaultFormatFile()
	}
	if opt.Interval <= 0 {
		opt.Interval = DefaultInterval
	}
	if opt.IdlePoll <= 0 {
		opt.IdlePoll = DefaultIdlePoll
	}
	if opt.DeadlineSeconds <= 0 {
		opt.DeadlineSeconds = DefaultDeadlineSeconds
	}
	if opt.HealthDeadline <= 0 {
		opt.HealthDeadline = DefaultHealthDeadline
	}
	if opt.Install == nil {
		opt.Install = platformInstall(opt)
	}
	if runtime.GOOS == "windows" {
		opt.FinishInterrupted = true
	}
	u := &Updater{opt: opt, log: opt.Logger.With("component", "update"), files: Files{Dir: opt.Dir}, kick: make(chan struct{}, 1), openFile: os.OpenFile, resultPoll: resultPoll}
	if opt.Window != "" {
		from, to, err := config.ParseWindow(opt.Window)
		if err != nil {
			return nil, fmt.Errorf("update.window: %w", err)
		}
		u.window = &[2]int{from, to}
	}
	u.st = Status{Version: opt.Version, Since: opt.Now()}
	off := ""
	var err error
	if u.platform, u.pub, err = Readiness(opt.Enabled, opt.FormatFile, opt.ReleasePub); err != nil {
		off = err.Error()
	}
	u.st.Platform = u.platform
	if off != "" {
		u.st.State, u.st.Reason = StateOff, off
		u.log.Info("agent updates are off", "reason", off)
	} else {
		u.st.Enabled = true
		u.log.Info("agent updates are on", "platform", u.platform, "release_pub", opt.ReleasePub, "window", opt.Window)
	}
	if err := os.MkdirAll(opt.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("update directory: %w", err)
	}
	u.readResult()
	u.st.Summary, u.st.Attention = u.st.summary(), u.st.Problem()
	return u, nil
}

// Why updates are off, for Readiness's callers.
var (
	ErrDisabled     = errors.New("update.enabled is false")
	ErrNoReleaseKey = errors.New("no release key (update.release_pub)")
)

// Readiness says whether an agent with these settings updates itself:
// its release platform and the release key, or why not (ErrDisabled,
// ErrNotPackaged, an unknown package format, or no usable release key,
// in which case the platform is still given).
func Readiness(enabled bool, formatFile, releasePub string) (platform string, pub ed25519.PublicKey, err error) {
	if !enabled {
		return "", nil, ErrDisabled
	}
	if platform, err = Platform(formatFile); err != nil {
		return "", nil, err
	}
	if pub, err = release.LoadPublicKey(releasePub); err != nil {
		return platform, nil, fmt.Errorf("%w: %w", ErrNoReleaseKey, err)
	}
	return platform, pub, nil
}

// Connected tells the updater the tunnel is up: it asks the relay at
// once. It never blocks.
func (u *Updater) Connected() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// CheckPath is where the relay, over the tunnel, tells the agent that
// the rollout changed: the agent asks it again at once (POST, no body).
const CheckPath = "/relay/v1/update/check"

// CheckHandler serves CheckPath: it only makes the updater ask the relay
// now, so a phone that reached it could do no more than that (the relay
// forwards no such path).
func (u *Updater) CheckHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		u.Connected()
		w.WriteHeader(http.StatusAccepted)
	})
}

// Status is the updater's state now.
func (u *Updater) Status() Status {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.st
	if s.Checked != nil {
		t := *s.Checked
		s.Checked = &t
	}
	return s
}

// Run asks, downloads, waits and hands over until ctx is done; it also
// runs this start's health checks. It never fails the agent.
func (u *Updater) Run(ctx context.Context) error {
	healthDone := make(chan struct{})
	go func() {
		defer close(healthDone)
		u.runHealth(ctx)
	}()
	defer func() { <-healthDone }()

	tick := time.NewTicker(u.opt.Interval)
	defer tick.Stop()
	var changes <-chan struct{}
	if u.opt.Changes != nil {
		ch, stop := u.opt.Changes()
		defer stop()
		changes = ch
	}
	u.finishInterrupted(ctx)
	ask := false // the first question waits for the tunnel (Connected)
	for {
		u.round(ctx, ask)
		ask = false
		var poll <-chan time.Time
		var wake <-chan struct{}
		var timer *time.Timer
		switch {
		case u.ready != nil: // waiting for an empty line
			timer = time.NewTimer(u.opt.IdlePoll)
			poll, wake = timer.C, changes
		case installing(u.files): // waiting for the installer's result
			timer = time.NewTimer(u.resultPoll)
			poll = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-u.kick:
			ask = true
		case <-tick.C:
			ask = true
		case <-poll:
		case <-wake:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// round is one turn of the loop: reports first, then (if ask) the
// relay's answer, then the install when its time has come.
func (u *Updater) round(ctx context.Context, ask bool) {
	u.reportResult(ctx, ask) // the installer's result, once
	u.flush(ctx)
	if u.pub == nil {
		return
	}
	if ask {
		u.check(ctx)
	}
	if u.ready != nil {
		u.tryInstall(ctx)
	}
}

// check asks the relay and prepares what it offers.
func (u *Updater) check(ctx context.Context) {
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	o, err := u.ask(actx)
	cancel()
	if err != nil {
		if errors.Is(err, errWait) || ctx.Err() != nil {
			return
		}
		// A relay of an earlier version resets the agent's streams.
		if !u.silent {
			u.silent = true
			u.log.Warn("the relay did not say which version to run (a relay of an earlier version serves no updates)", "err", err)
		}
		u.set(func(s *Status) {
			if s.State == "" || s.State == StateCurrent {
				s.Reason = clip("the relay did not say which version to run (a relay of an earlier version serves no updates): "+err.Error(), 300)
			}
		})
		return
	}
	u.silent = false
	u.log.Debug("asked the relay for updates", "target", o.Target, "reason", o.Reason)
	now := u.opt.Now()
	u.set(func(s *Status) { s.Checked = &now })
	if installing(u.files) {
		// Handed over already: the installer's result comes first.
		var req Request
		readJSON(u.files.Request(), &req)
		u.setState(StateInstalling, req.Version, "handed to the installer, no result yet")
		return
	}
	if o.Target == "" || o.Target == u.opt.Version {
		if u.ready != nil {
			u.log.Info("the relay no longer offers the prepared update: not installing it", "version", u.ready.Version)
			u.ready = nil
		}
		u.setState(StateCurrent, "", clip(o.Reason, 200))
		return
	}
	u.mu.Lock()
	last := u.st.Result
	u.mu.Unlock()
	if last != nil && last.Version == o.Target && (last.State == StateRolledBack || last.State == StateFailed) {
		// Installed here once and not healthy: never again by itself, or
		// the kiosk would go round installing and rolling back.
		u.ready = nil
		u.setState(last.State, o.Target, "not installing it again: "+last.Reason)
		return
	}
	req, err := u.prepare(ctx, o)
	switch {
	case errors.Is(err, errWait) || ctx.Err() != nil:
		u.set(func(s *Status) { s.Reason = "waiting for the tunnel to resume the download" })
	case err != nil:
		u.ready = nil
		u.fail(o.Target, err)
		u.flush(ctx)
	default:
		u.ready = req
	}
}

// prepare verifies the offer, keeps the running release's package and
// downloads the new one; the result is ready to hand over.
func (u *Updater) prepare(ctx context.Context, o offer) (*Request, error) {
	m, err := release.Verify(u.pub, []byte(o.Manifest))
	if err != nil {
		return nil, fmt.Errorf("the release manifest of %s: %w", o.Target, err)
	}
	if m.Version != o.Target {
		return nil, fmt.Errorf("the relay offered %s but its signed manifest is of %s", o.Target, m.Version)
	}
	if release.CompareVersions(m.Version, u.opt.Version) < 0 && !o.Downgrade {
		return nil, fmt.Errorf("%s is older than the running %s and the relay did not ask for a downgrade", m.Version, u.opt.Version)
	}
	p, err := m.For(u.platform)
	if err != nil {
		return nil, err
	}
	req := &Request{
		Version: m.Version, From: u.opt.Version, Platform: u.platform,
		Package: u.files.Package(p.File), Manifest: u.files.Manifest(m.Version),
		DeadlineSeconds: u.opt.DeadlineSeconds,
	}
	if u.ready != nil && *u.ready == *req && checkFile(req.Package, p) == nil {
		return req, nil // prepared at an earlier question
	}
	if err := u.keepInstalled(ctx); err != nil {
		if errors.Is(err, errWait) {
			return nil, err
		}
		return nil, fmt.Errorf("no package of the running %s to roll back to, so not updating: %w", u.opt.Version, err)
	}
	if checkFile(req.Package, p) != nil {
		u.setState(StateDownloading, m.Version, "")
		u.queue(report{Version: m.Version, From: u.opt.Version, State: StateDownloading})
		u.flush(ctx)
		u.log.Info("downloading an update", "version", m.Version, "file", p.File, "size", p.Size)
	}
	if err := u.fetchPackage(ctx, m.Version, p, u.opt.Dir); err != nil {
		return nil, err
	}
	if err := writeAtomic(req.Manifest, []byte(o.Manifest), 0o644); err != nil {
		return nil, fmt.Errorf("%w: %w", errDisk, err)
	}
	u.tidy(req)
	u.log.Info("update downloaded and verified: waiting for an empty line", "version", m.Version, "package", req.Package, "window", u.opt.Window)
	u.setState(StateReady, m.Version, "")
	u.queue(report{Version: m.Version, From: u.opt.Version, State: StateReady})
	u.flush(ctx)
	return req, nil
}

// keepInstalled makes sure installed/ holds the running release's package
// and signed manifest, verified: the installer's way back. It fetches
// them from the relay when they are missing or of another version.
func (u *Updater) keepInstalled(ctx context.Context) error {
	dir := u.files.Installed()
	if data, err := os.ReadFile(u.files.InstalledManifest()); err == nil {
		if m, err := release.Verify(u.pub, data); err == nil && m.Version == u.opt.Version {
			if p, err := m.For(u.platform); err == nil && checkFile(filepath.Join(dir, p.File), p) == nil {
				return nil
			}
		}
	}
	data, err := u.fetchManifest(ctx, u.opt.Version)
	if err != nil {
		return err
	}
	m, err := release.Verify(u.pub, data)
	if err != nil {
		return fmt.Errorf("the release manifest of %s: %w", u.opt.Version, err)
	}
	if m.Version != u.opt.Version {
		return fmt.Errorf("the relay's manifest for %s is of %s", u.opt.Version, m.Version)
	}
	p, err := m.For(u.platform)
	if err != nil {
		return err
	}
	u.log.Info("fetching the running version's package, kept for a rollback", "version", m.Version, "file", p.File)
	if err := u.fetchPackage(ctx, m.Version, p, dir); err != nil {
		return err
	}
	if err := writeAtomic(u.files.InstalledManifest(), data, 0o644); err != nil {
		return fmt.Errorf("%w: %w", errDisk, err)
	}
	// Older packages kept here are of no use any more.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); n != p.File && n != ManifestFile {
			os.Remove(filepath.Join(dir, n))
		}
	}
	return nil
}

// tidy removes downloads and manifests of other versions than req's.
func (u *Updater) tidy(req *Request) {
	entries, _ := os.ReadDir(u.opt.Dir)
	for _, e := range entries {
		n := e.Name()
		path := filepath.Join(u.opt.Dir, n)
		if e.IsDir() || path == req.Package || path == req.Manifest {
			continue
		}
		if strings.HasSuffix(n, partSuffix) || strings.HasSuffix(n, manifestSufix) || release.PlatformOf(n) != "" {
			os.Remove(path)
		}
	}
}

// tryInstall hands the prepared update over when the line is empty and
// the window open.
func (u *Updater) tryInstall(ctx context.Context) {
	req := u.ready
	if u.window != nil && !inWindow(*u.window, u.opt.Now()) {
		u.set(func(s *Status) { s.Reason = "waiting for the maintenance window " + u.opt.Window })
		return
	}
	idle, why, err := u.opt.Idle()
	if err != nil {
		u.set(func(s *Status) { s.Reason = "waiting: the line cannot be read: " + err.Error() })
		return
	}
	if !idle {
		u.set(func(s *Status) { s.Reason = "waiting for an empty line: " + why })
		return
	}
	u.ready = nil
	// The package is checked once more: it lay on disk meanwhile.
	data, err := os.ReadFile(req.Manifest)
	if err == nil {
		var m release.Manifest
		if m, err = release.Verify(u.pub, data); err == nil {
			var p release.Package
			if p, err = m.For(req.Platform); err == nil {
				err = checkFile(req.Package, p)
			}
		}
	}
	if err != nil {
		u.fail(req.Version, fmt.Errorf("the downloaded package changed on disk: %w", err))
		u.flush(ctx)
		return
	}
	if err := writeJSON(u.files.Request(), req); err != nil {
		u.fail(req.Version, fmt.Errorf("%w: %w", errDisk, err))
		u.flush(ctx)
		return
	}
	u.log.Info("line empty: handing the update to the installer", "version", req.Version, "request", u.files.Request())
	u.setState(StateInstalling, req.Version, "handed to the installer")
	u.queue(report{Version: req.Version, From: u.opt.Version, State: StateInstalling})
	u.flush(ctx)
	if err := u.opt.Install(ctx, *req); err != nil {
		os.Remove(u.files.Request())
		u.fail(req.Version, fmt.Errorf("start the installer: %w", err))
		u.flush(ctx)
	}
}

// installing reports whether a request was handed over and the installer
// has not finished it yet.
// finishInterrupted starts the installer again when it began a job (its
// status.json) that has no result, and no installer holds its work
// directory (see Options.FinishInterrupted); the installer finishes the
// job from its journal.
func (u *Updater) finishInterrupted(ctx context.Context) {
	if !u.opt.FinishInterrupted || !installing(u.files) {
		return
	}
	var req Request
	var st struct {
		Version string `json:"version"`
	}
	if _, err := readJSON(u.files.Request(), &req); err != nil {
		return
	}
	if _, err := readJSON(u.files.Status(), &st); err != nil || st.Version != req.Version {
		return // the installer never began this one
	}
	if installer.Busy(installerWork(u.opt)) {
		return // its installer is at work (waiting for this start's health)
	}
	u.log.Warn("an update was cut short (a power cut?): starting the installer to finish it", "version", req.Version)
	if err := u.opt.Install(ctx, req); err != nil {
		u.log.Error("the installer could not be started to finish the update", "version", req.Version, "err", err)
	}
}

func installing(f Files) bool {
	var req Request
	if _, err := readJSON(f.Request(), &req); err != nil {
		return false
	}
	var res Result
	if _, err := readJSON(f.Result(), &res); err == nil && res.Version == req.Version {
		rq, err1 := os.Stat(f.Request())
		rs, err2 := os.Stat(f.Result())
		if err1 == nil && err2 == nil && !rs.ModTime().Before(rq.ModTime()) {
			return false
		}
	}
	return true
}

// clip cuts s to at most n bytes of printable text.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "..."
	}
	return s
}

func inWindow(w [2]int, t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	if w[0] < w[1] {
		return m >= w[0] && m < w[1]
	}
	return m >= w[0] || m < w[1] // spans midnight
}

// fail ends an attempt: the agent stays on its version; the reason goes
// to the log (once per reason), the relay and the status.
func (u *Updater) fail(version string, err error) {
	reason := err.Error()
	u.mu.Lock()
	same := u.st.State == StateFailed && u.st.Target == version && u.st.Reason == reason
	u.mu.Unlock()
	if !same {
		u.log.Error("update not installed: staying on the running version", "version", version, "running", u.opt.Version, "err", err)
	}
	u.setState(StateFailed, version, reason)
	u.queue(report{Version: version, From: u.opt.Version, State: StateFailed, Reason: reason})
}

// queue adds a report to send; the same report twice in a row is sent
// once.
func (u *Updater) queue(r report) {
	if len(r.Reason) > maxReason {
		r.Reason = strings.ToValidUTF8(r.Reason[:maxReason], "") + "..."
	}
	if n := len(u.pending); (n > 0 && u.pending[n-1] == r) || (n == 0 && u.sent == r) {
		return
	}
	if len(u.pending) >= 16 {
		u.pending = u.pending[1:]
	}
	u.pending = append(u.pending, r)
}

// flush sends the pending reports in order; what the relay does not take
// waits for the next round.
func (u *Updater) flush(ctx context.Context) {
	for len(u.pending) > 0 {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := u.send(sctx, u.pending[0])
		cancel()
		if err != nil {
			if !errors.Is(err, errWait) && ctx.Err() == nil {
				u.log.Warn("update report not taken by the relay: sending it again later", "err", err)
			}
			return
		}
		u.sent, u.pending = u.pending[0], u.pending[1:]
	}
}

func (u *Updater) setState(state, target, reason string) {
	u.set(func(s *Status) {
		if s.State != state || s.Target != target {
			s.Since = u.opt.Now()
		}
		s.State, s.Target, s.Reason = state, target, reason
		if state != StateDownloading {
			s.Have, s.Size = 0, 0
		}
	})
}

func (u *Updater) set(fn func(*Status)) {
	u.mu.Lock()
	fn(&u.st)
	u.st.Summary, u.st.Attention = u.st.summary(), u.st.Problem()
	u.mu.Unlock()
	if u.opt.OnChange != nil {
		u.opt.OnChange()
	}
}

// progress records a download's progress, telling OnChange every 5%.
func (u *Updater) progress(version string, have, size int64) {
	pct := have * 20 / max(size, 1)
	u.mu.Lock()
	tell := pct != u.lastPct || u.st.Size != size
	u.lastPct = pct
	u.mu.Unlock()
	if tell {
		u.set(func(s *Status) { s.Have, s.Size = have, size })
	}
}
