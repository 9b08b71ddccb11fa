// Package installer is the root side of an agent update (docs/updates.md):
// `casefleet-agent update-install`, run by the oneshot unit
// casefleet-agent-update.service when the agent writes update/request.json
// on Linux, started detached by the agent's service (LocalSystem) from a
// copy of its executable on Windows (--format msi).
//
// It believes nothing of the agent's say: it verifies the manifest with its
// own release key and the package's size and SHA-256, on root-only copies
// it then installs from. It keeps the installed version's package (the
// agent puts it in update/installed/ before the first update) to go back
// to, writes update/status.json {"state": "installing"} before the package
// tool runs, waits for the new agent's update/health.json, reinstalls the
// kept package when that does not come, and writes update/result.json.
//
// Its own journal (journal.json in its root-only work directory) says what
// it was doing: a run that finds one finishes that job first (a power cut
// mid-install): it repairs the package database, checks which version is
// installed, and waits for health or rolls back.
package installer

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"casefleet/shared/release"
)

// Files in the agent's update directory.
const (
	RequestFile  = "request.json"
	StatusFile   = "status.json"
	ResultFile   = "result.json"
	HealthFile   = "health.json"
	InstalledDir = "installed" // the kept package and its manifest
	// KeptManifest is the kept release's manifest in installed/, as the
	// agent names it (any one *manifest.json there is read).
	KeptManifest = "manifest.json"
)

// Result states (docs/updates.md).
const (
	Healthy    = "healthy"
	RolledBack = "rolled_back"
	Failed     = "failed"
)

// Journal states, also shown in status.json.
const (
	stateInstalling  = "installing"
	stateRollingBack = "rolling_back"
)

const (
	defaultDeadline = 180 * time.Second
	maxDeadline     = time.Hour
	maxStateFile    = 64 << 10
)

// Request is update/request.json, written by the agent.
type Request struct {
	Version         string `json:"version"`
	From            string `json:"from"`
	Platform        string `json:"platform"`
	Package         string `json:"package"`
	Manifest        string `json:"manifest"`
	DeadlineSeconds int    `json:"deadline_seconds"`
}

// Result is update/result.json.
type Result struct {
	Version string `json:"version"`
	From    string `json:"from,omitempty"`
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
}

// Status is update/status.json: what the installer is doing now.
type Status struct {
	State           string    `json:"state"`
	Version         string    `json:"version"`
	From            string    `json:"from,omitempty"`
	Started         time.Time `json:"started"`
	DeadlineSeconds int       `json:"deadline_seconds"`
	Reason          string    `json:"reason,omitempty"`
}

// Health is update/health.json, written by the agent after its checks.
type Health struct {
	Version string `json:"version"`
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason,omitempty"`
}

// journal is the installer's own record of a job, in its work directory.
type journal struct {
	Status
	Request     string `json:"request"` // SHA-256 of request.json
	NewFile     string `json:"new_file"`
	NewManifest string `json:"new_manifest"`
	NewVersion  string `json:"new_version"` // as the package tool says it
	KeptFile    string `json:"kept_file"`
	KeptVersion string `json:"kept_version"`      // as the package tool says it
	KeptRelease string `json:"kept_release"`      // as the agent says it: v1.5.0
	Outcome     string `json:"outcome,omitempty"` // rolling back: the state the job ends in
}

// Installer does one update-install run.
type Installer struct {
	Dir        string                     // the agent's update directory
	Work       string                     // root-only: the verified copies and the journal
	ReleaseKey ed25519.PublicKey          // from root's own configuration
	Platform   string                     // e.g. linux-amd64-deb
	Tool       Tool                       // dpkg, rpm or msiexec
	Logger     *slog.Logger               // never nil
	Recheck    time.Duration              // how often health.json is read besides on change (default 2s)
	writeFile  func(string, []byte) error // tests: a full disk
	keyErr     error                      // why ReleaseKey is missing
}

// failure is a job's end before anything was installed, with its reason.
type failure struct{ reason string }

func (f failure) Error() string { return f.reason }

func fail(format string, a ...any) error { return failure{fmt.Sprintf(format, a...)} }

// Run does what there is to do: finishes an interrupted job, or carries
// out a new request.json; nothing when the request was done already or
// another installer is at work. An
// error means the job could not be finished (and is not recorded as
// done): systemd runs the unit again.
func (in *Installer) Run(ctx context.Context) error {
	if err := os.MkdirAll(in.Work, 0o700); err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	// One installer at a time: the unit runs once, but on Windows the
	// agent starts one at its own start to finish an interrupted job,
	// which may find the installer of that job still waiting for it.
	release, err := LockWork(in.Work)
	if errors.Is(err, ErrBusy) {
		in.Logger.Info("update: another update-install is running: nothing to do")
		return nil
	}
	if err != nil {
		return err
	}
	defer release()
	var j journal
	switch err := readJSON(filepath.Join(in.Work, "journal.json"), &j); {
	case err == nil:
		return in.resume(ctx, j)
	case !errors.Is(err, fs.ErrNotExist):
		in.Logger.Error("update: the journal is unreadable: starting over from request.json", "err", err)
	}

	// Root writes result.json and status.json into the agent's directory:
	// a real directory, not a link the agent made to somewhere else.
	if info, err := os.Lstat(in.Dir); errors.Is(err, fs.ErrNotExist) {
		in.Logger.Info("update: no update directory: nothing to do", "dir", in.Dir)
		return nil
	} else if err != nil || !info.IsDir() {
		return fmt.Errorf("the update directory %s is not a directory (%v): not used", in.Dir, err)
	}
	raw, err := readLimited(filepath.Join(in.Dir, RequestFile))
	if errors.Is(err, fs.ErrNotExist) {
		in.Logger.Info("update: no request: nothing to do")
		return nil
	}
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	sum := sha256.Sum256(raw)
	id := hex.EncodeToString(sum[:])
	if done, _ := os.ReadFile(filepath.Join(in.Work, "done")); strings.TrimSpace(string(done)) == id {
		in.Logger.Info("update: this request was carried out already: nothing to do")
		return nil
	}
	var req Request
	if err := json.Unmarshal(raw, &req); err != nil {
		return in.finish(journal{Request: id}, Failed, fmt.Sprintf("request.json does not parse: %v", err))
	}
	j, err = in.prepare(ctx, req, id)
	if err != nil {
		var f failure
		if !errors.As(err, &f) {
			f.reason = err.Error()
		}
		in.cleanWork()
		return in.finish(j, Failed, f.reason)
	}
	return in.install(ctx, j)
}

// prepare checks the request and makes the verified root-only copies of the
// new package and of the kept one.
func (in *Installer) prepare(ctx context.Context, req Request, id string) (journal, error) {
	j := journal{Request: id, Status: Status{State: stateInstalling, Version: req.Version, From: req.From, Started: time.Now().UTC()}}
	deadline := time.Duration(req.DeadlineSeconds) * time.Second
	if deadline <= 0 {
		deadline = defaultDeadline
	}
	j.DeadlineSeconds = int(min(deadline, maxDeadline) / time.Second)
	log := in.Logger.With("version", req.Version, "from", req.From)
	log.Info("update: request", "package", req.Package, "platform", req.Platform)

	if req.Platform != in.Platform {
		return j, fail("the request is for platform %q, this kiosk is %s", req.Platform, in.Platform)
	}
	for _, p := range []string{req.Package, req.Manifest} {
		if !filepath.IsAbs(p) || filepath.Dir(p) != filepath.Clean(in.Dir) {
			return j, fail("%q is not a file in the update directory %s", p, in.Dir)
		}
	}
	m, pkg, err := in.verified(req.Manifest)
	if err != nil {
		return j, fail("new release: %v", err)
	}
	if m.Version != req.Version {
		return j, fail("the manifest is for %s, the request for %s", m.Version, req.Version)
	}
	if pkg.File != filepath.Base(req.Package) {
		return j, fail("the manifest names %s for %s, the request %s", pkg.File, in.Platform, filepath.Base(req.Package))
	}

	// The kept package first: without it there is no way back.
	keptManifest, err := keptManifest(filepath.Join(in.Dir, InstalledDir))
	if err != nil {
		return j, fail("no package to roll back to: %v (the agent puts the installed version's package and manifest in %s before the first update)",
			err, filepath.Join(in.Dir, InstalledDir))
	}
	km, kpkg, err := in.verified(keptManifest)
	if err != nil {
		return j, fail("kept release: %v", err)
	}
	keptDir := filepath.Join(in.Work, "kept")
	if _, err := os.Stat(filepath.Join(keptDir, kpkg.File)); err != nil || in.checkFile(filepath.Join(keptDir, kpkg.File), kpkg) != nil {
		if err := os.RemoveAll(keptDir + ".new"); err != nil {
			return j, fail("kept package: %v", err)
		}
		if err := in.copyVerified(filepath.Join(in.Dir, InstalledDir, kpkg.File), filepath.Join(keptDir+".new", kpkg.File), kpkg); err != nil {
			return j, fail("keep the package of %s for a rollback: %v", km.Version, err)
		}
		if err := in.copyVerified(keptManifest, filepath.Join(keptDir+".new", "manifest.json"), release.Package{}); err != nil {
			return j, fail("keep the manifest of %s for a rollback: %v", km.Version, err)
		}
		if err := os.RemoveAll(keptDir); err != nil {
			return j, fail("kept package: %v", err)
		}
		if err := os.Rename(keptDir+".new", keptDir); err != nil {
			return j, fail("kept package: %v", err)
		}
	}
	j.KeptFile, j.KeptRelease = filepath.Join(keptDir, kpkg.File), km.Version
	if j.KeptVersion, err = in.Tool.FileVersion(ctx, j.KeptFile); err != nil {
		return j, fail("kept package: %v", err)
	}
	installed, err := in.Tool.Installed(ctx)
	if err != nil {
		return j, fail("which version is installed: %v", err)
	}
	if installed != j.KeptVersion {
		return j, fail("the kept package is %s (%s) but %s is installed: no way back, so no update", km.Version, j.KeptVersion, installed)
	}

	newDir := filepath.Join(in.Work, "new")
	if err := os.RemoveAll(newDir); err != nil {
		return j, fail("new package: %v", err)
	}
	j.NewFile, j.NewManifest = filepath.Join(newDir, pkg.File), filepath.Join(newDir, "manifest.json")
	if err := in.copyVerified(req.Package, j.NewFile, pkg); err != nil {
		return j, fail("new package: %v", err)
	}
	if err := in.copyVerified(req.Manifest, j.NewManifest, release.Package{}); err != nil {
		return j, fail("new manifest: %v", err)
	}
	if j.NewVersion, err = in.Tool.FileVersion(ctx, j.NewFile); err != nil {
		return j, fail("new package: %v", err)
	}
	return j, nil
}

// install records the job, runs the package tool and waits for health.
func (in *Installer) install(ctx context.Context, j journal) error {
	log := in.Logger.With("version", j.Version, "from", j.From)
	if err := in.record(j); err != nil {
		in.cleanWork()
		return in.finish(j, Failed, fmt.Sprintf("write %s before installing: %v; %s stays installed", StatusFile, err, j.KeptRelease))
	}
	// A health report left from before is not the new agent's.
	if err := os.Remove(filepath.Join(in.Dir, HealthFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Warn("update: cannot remove the old health report", "err", err)
	}
	log.Info("update: installing", "file", j.NewFile)
	if err := in.Tool.Install(context.WithoutCancel(ctx), j.NewFile); err != nil {
		log.Error("update: the package did not install", "err", err)
		return in.backToKept(ctx, j, Failed, fmt.Sprintf("%s did not install: %v", j.Version, err))
	}
	return in.await(ctx, j)
}

// await waits for the new agent's health and ends the job.
func (in *Installer) await(ctx context.Context, j journal) error {
	log := in.Logger.With("version", j.Version, "from", j.From)
	deadline := time.Duration(j.DeadlineSeconds) * time.Second
	log.Info("update: installed; waiting for the new agent's health", "deadline", deadline)
	healthy, why, err := in.waitHealthy(ctx, j.Version, deadline)
	if err != nil {
		return err // stopped: the next run carries on
	}
	if !healthy {
		log.Error("update: the new version is not healthy: rolling back", "reason", why)
		return in.backToKept(ctx, j, RolledBack, why)
	}
	log.Info("update: the new version is healthy")
	reason := ""
	if err := in.promote(j); err != nil {
		log.Error("update: the new package could not be kept for the next rollback", "err", err)
		reason = fmt.Sprintf("healthy, but its package could not be kept for a later rollback: %v", err)
	}
	return in.finish(j, Healthy, reason)
}

// backToKept puts the kept version back (unless it is still installed)
// and ends the job with state and reason.
func (in *Installer) backToKept(ctx context.Context, j journal, state, reason string) error {
	j.State, j.Reason, j.Outcome = stateRollingBack, reason, state
	if err := in.record(j); err != nil {
		in.Logger.Error("update: cannot record the rollback", "err", err)
	}
	tool := context.WithoutCancel(ctx)
	if v, err := in.Tool.Installed(tool); err == nil && v == j.KeptVersion {
		return in.finish(j, state, fmt.Sprintf("%s; %s is still installed", reason, j.KeptRelease))
	}
	in.Logger.Info("update: reinstalling the kept package", "file", j.KeptFile)
	if err := in.Tool.Reinstall(tool, j.KeptFile); err != nil {
		in.Logger.Error("update: the rollback failed", "err", err)
		return in.finish(j, Failed, fmt.Sprintf("%s; the rollback to %s failed too: %v", reason, j.KeptRelease, err))
	}
	if v, err := in.Tool.Installed(tool); err != nil || v != j.KeptVersion {
		return in.finish(j, Failed, fmt.Sprintf("%s; after the rollback %q is installed, not %s (%v)", reason, v, j.KeptVersion, err))
	}
	return in.finish(j, state, fmt.Sprintf("%s; %s reinstalled", reason, j.KeptRelease))
}

// resume finishes a job a previous run left (killed, power cut).
func (in *Installer) resume(ctx context.Context, j journal) error {
	log := in.Logger.With("version", j.Version, "from", j.From)
	log.Warn("update: finishing the job an earlier run left", "state", j.State, "started", j.Started)
	if done, _ := os.ReadFile(filepath.Join(in.Work, "done")); strings.TrimSpace(string(done)) == j.Request {
		return in.cleanJournal() // it ended; only the clean-up was cut
	}
	tool := context.WithoutCancel(ctx)
	if err := in.Tool.Repair(tool); err != nil {
		log.Error("update: repairing the package database failed", "err", err)
	}
	if j.State == stateRollingBack {
		return in.backToKept(ctx, j, or(j.Outcome, RolledBack), j.Reason)
	}
	v, err := in.Tool.Installed(tool)
	log.Info("update: package database repaired", "installed", v, "installed_err", err, "new", j.NewVersion, "kept", j.KeptVersion)
	switch {
	case err == nil && v == j.NewVersion:
		return in.await(ctx, j)
	case err == nil && v == j.KeptVersion:
		return in.finish(j, Failed, fmt.Sprintf("the installer was interrupted before %s was installed; %s is still installed", j.Version, j.KeptRelease))
	default:
		return in.backToKept(ctx, j, RolledBack, fmt.Sprintf("the installer was interrupted while installing %s (installed after repair: %q, %v)", j.Version, v, err))
	}
}

// waitHealthy waits until health.json names version (healthy or not), the
// deadline passes (not healthy) or ctx ends (an error).
func (in *Installer) waitHealthy(ctx context.Context, version string, deadline time.Duration) (bool, string, error) {
	w, err := fsnotify.NewWatcher()
	if err == nil {
		defer w.Close()
		if err = w.Add(in.Dir); err != nil {
			in.Logger.Warn("update: cannot watch the update directory: reading health.json every few seconds", "err", err)
		}
	}
	var events chan fsnotify.Event
	if err == nil {
		events = w.Events
	}
	recheck := in.Recheck
	if recheck <= 0 {
		recheck = 2 * time.Second
	}
	tick := time.NewTicker(recheck)
	defer tick.Stop()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		var h Health
		if err := readJSON(filepath.Join(in.Dir, HealthFile), &h); err == nil && h.Version == version {
			if h.Healthy {
				return true, "", nil
			}
			return false, fmt.Sprintf("%s reported itself unhealthy: %s", version, or(h.Reason, "no reason given")), nil
		}
		select {
		case <-ctx.Done():
			return false, "", fmt.Errorf("stopped while waiting for %s's health: %w", version, context.Cause(ctx))
		case <-timer.C:
			return false, fmt.Sprintf("%s did not report healthy within %s", version, deadline), nil
		case <-events:
		case <-tick.C:
		}
	}
}

// promote makes the new package the kept one, here and in update/installed/.
func (in *Installer) promote(j journal) error {
	keptDir := filepath.Join(in.Work, "kept")
	if err := os.RemoveAll(keptDir); err != nil {
		return err
	}
	if err := os.Rename(filepath.Dir(j.NewFile), keptDir); err != nil {
		return err
	}
	dir := filepath.Join(in.Dir, InstalledDir)
	if info, err := os.Lstat(dir); err != nil || !info.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	file := filepath.Join(dir, filepath.Base(j.NewFile))
	if err := in.copyVerified(filepath.Join(keptDir, filepath.Base(j.NewFile)), file, release.Package{}); err != nil {
		return err
	}
	manifest := filepath.Join(dir, KeptManifest)
	if err := in.copyVerified(filepath.Join(keptDir, "manifest.json"), manifest, release.Package{}); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries { // the previous version's files
		if p := filepath.Join(dir, e.Name()); p != file && p != manifest {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// finish writes result.json and status.json, and marks the request done.
func (in *Installer) finish(j journal, state, reason string) error {
	res := Result{Version: j.Version, From: j.From, State: state, Reason: reason}
	log := in.Logger.With("version", j.Version, "from", j.From, "state", state)
	if state == Healthy {
		log.Info("update: done", "reason", reason)
	} else {
		log.Error("update: done", "reason", reason)
	}
	body, _ := json.MarshalIndent(res, "", "  ")
	if err := in.write(filepath.Join(in.Dir, ResultFile), body); err != nil {
		return fmt.Errorf("write %s (%s: %s): %w", ResultFile, state, reason, err)
	}
	j.Status.State, j.Status.Reason = state, reason
	status, _ := json.MarshalIndent(j.Status, "", "  ")
	if err := in.write(filepath.Join(in.Dir, StatusFile), status); err != nil {
		log.Warn("update: cannot write the final status", "err", err)
	}
	if j.Request != "" {
		if err := atomicWrite(filepath.Join(in.Work, "done"), []byte(j.Request+"\n"), 0o600); err != nil {
			return fmt.Errorf("mark the request done: %w", err)
		}
	}
	return in.cleanJournal()
}

func (in *Installer) cleanJournal() error {
	if err := os.Remove(filepath.Join(in.Work, "journal.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(filepath.Join(in.Work, "new"))
}

func (in *Installer) cleanWork() {
	_ = os.RemoveAll(filepath.Join(in.Work, "new"))
	_ = os.RemoveAll(filepath.Join(in.Work, "kept.new"))
}

// record writes the journal, then status.json for the agent to see.
func (in *Installer) record(j journal) error {
	body, _ := json.MarshalIndent(j, "", "  ")
	if err := atomicWrite(filepath.Join(in.Work, "journal.json"), body, 0o600); err != nil {
		return err
	}
	status, _ := json.MarshalIndent(j.Status, "", "  ")
	if err := in.write(filepath.Join(in.Dir, StatusFile), status); err != nil {
		_ = os.Remove(filepath.Join(in.Work, "journal.json"))
		return err
	}
	return nil
}

// write writes a file of the update directory (readable by the agent).
func (in *Installer) write(path string, data []byte) error {
	if in.writeFile != nil {
		return in.writeFile(path, data)
	}
	return atomicWrite(path, append(data, '\n'), 0o644)
}

// verified reads a signed manifest, verifies it with the release key and
// returns it with this platform's package.
func (in *Installer) verified(path string) (release.Manifest, release.Package, error) {
	if len(in.ReleaseKey) == 0 {
		return release.Manifest{}, release.Package{}, fmt.Errorf("no release key to verify it with: %v", in.keyErr)
	}
	data, err := readLimited(path)
	if err != nil {
		return release.Manifest{}, release.Package{}, err
	}
	m, err := release.Verify(in.ReleaseKey, data)
	if err != nil {
		return release.Manifest{}, release.Package{}, fmt.Errorf("%s: %w", path, err)
	}
	p, err := m.For(in.Platform)
	return m, p, err
}

func (in *Installer) checkFile(path string, p release.Package) error {
	f, err := openRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return p.Check(f)
}

// copyVerified copies src to dst (root's, 0644, synced, renamed into
// place) and, when p names a package, checks the bytes copied against it:
// what is installed later is exactly what was checked.
func (in *Installer) copyVerified(src, dst string, p release.Package) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	from, err := openRegular(src)
	if err != nil {
		return err
	}
	defer from.Close()
	return writeWhole(dst, 0o644, func(tmp *os.File) error {
		if p.File == "" {
			_, err := io.Copy(tmp, from)
			return err
		}
		pr, pw := io.Pipe()
		checked := make(chan error, 1)
		go func() { err := p.Check(pr); pr.CloseWithError(err); checked <- err }()
		_, err := io.Copy(io.MultiWriter(tmp, pw), io.LimitReader(from, p.Size+1))
		pw.CloseWithError(err)
		if cerr := <-checked; err == nil || errors.Is(err, io.ErrClosedPipe) {
			err = cerr
		}
		return err
	})
}

// keptManifest finds the one manifest in dir (installed/).
func keptManifest(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var found []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), "manifest.json") {
			found = append(found, filepath.Join(dir, e.Name()))
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%d manifests in %s, want one", len(found), dir)
	}
	return found[0], nil
}

// openRegular opens a file of the agent's directories, which the agent
// (unprivileged) could have made a link to a file of root's: only a
// regular file, the same one that was looked at, is read.
func openRegular(path string) (*os.File, error) {
	before, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, before.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if now, err := f.Stat(); err != nil || !os.SameFile(before, now) {
		f.Close()
		return nil, fmt.Errorf("%s changed while it was opened", path)
	}
	return f, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStateFile+1))
	if err == nil && len(data) > maxStateFile {
		err = fmt.Errorf("%s is larger than %d bytes", path, maxStateFile)
	}
	return data, err
}

func readJSON(path string, v any) error {
	data, err := readLimited(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// atomicWrite writes a file whole or not at all (see writeWhole).
func atomicWrite(path string, data []byte, mode os.FileMode) error {
	return writeWhole(path, mode, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// writeWhole makes path whole or not at all: fill writes a temporary file
// beside it, which is synced and renamed over path.
func writeWhole(path string, mode os.FileMode, fill func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = fill(tmp)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
