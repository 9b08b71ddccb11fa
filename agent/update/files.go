package update

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// The files of the update directory (docs/updates.md, "the hand-over").
// The agent writes the downloads, request.json and health.json; the
// installer writes status.json and result.json.
const (
	RequestFile   = "request.json"  // agent -> installer: install this
	StatusFile    = "status.json"   // installer: where it is
	HealthFile    = "health.json"   // the agent after a start: its health checks
	ResultFile    = "result.json"   // installer -> agent: how it ended
	reportedFile  = "reported.json" // agent: the result.json it has reported
	InstalledDir  = "installed"     // the running release's package and manifest, kept for a rollback
	ManifestFile  = "manifest.json" // in InstalledDir: the kept release's signed manifest
	partSuffix    = ".part"         // a download not yet complete
	manifestSufix = ".manifest.json"
)

// Files names the files of an update directory.
type Files struct{ Dir string }

func (f Files) path(name string) string { return filepath.Join(f.Dir, name) }

// Request is request.json.
func (f Files) Request() string { return f.path(RequestFile) }

// Status is the installer's status.json.
func (f Files) Status() string { return f.path(StatusFile) }

// Health is health.json.
func (f Files) Health() string { return f.path(HealthFile) }

// Result is the installer's result.json.
func (f Files) Result() string { return f.path(ResultFile) }

// Package is where a verified package named file is kept.
func (f Files) Package(file string) string { return f.path(file) }

// Manifest is where the signed manifest of version is kept.
func (f Files) Manifest(version string) string { return f.path(version + manifestSufix) }

// Installed is the directory of the running release's package, kept for
// a rollback.
func (f Files) Installed() string { return f.path(InstalledDir) }

// InstalledManifest is the kept release's signed manifest.
func (f Files) InstalledManifest() string { return filepath.Join(f.Installed(), ManifestFile) }

// Request is request.json: the verified package the installer is asked to
// install.
type Request struct {
	Version         string `json:"version"`
	From            string `json:"from"`
	Platform        string `json:"platform"`
	Package         string `json:"package"`  // absolute path of the verified package
	Manifest        string `json:"manifest"` // absolute path of its signed manifest
	DeadlineSeconds int    `json:"deadline_seconds"`
}

// Result is result.json: how the installer's job ended.
type Result struct {
	Version string `json:"version"`
	From    string `json:"from,omitempty"`
	State   string `json:"state"` // StateHealthy, StateRolledBack or StateFailed
	Reason  string `json:"reason,omitempty"`
}

// Health is health.json: the new agent's health checks after a start.
type Health struct {
	Version string        `json:"version"`
	Healthy bool          `json:"healthy"`
	Reason  string        `json:"reason,omitempty"` // the failed checks, when not healthy
	Checks  []CheckResult `json:"checks"`
	Time    time.Time     `json:"time"`
}

// CheckResult is one health check's outcome.
type CheckResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// writeAtomic writes data to path so that a reader sees the old file or
// the whole new one, and a power cut leaves one of them: a temporary file
// in the same directory, synced, renamed, and the directory synced.
func writeAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, "."+filepath.Base(path)+"."+hex.EncodeToString(rnd[:])+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable (best effort: Windows cannot open
// a directory for syncing, and NTFS journals the rename).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeAtomic(path, append(b, '\n'), 0o644)
}

// maxStateFile bounds what is read of the small JSON files.
const maxStateFile = 64 << 10

// readJSON reads a small JSON file into v and returns its bytes; a
// missing file is an error wrapping fs.ErrNotExist.
func readJSON(path string, v any) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxStateFile {
		return nil, fmt.Errorf("read %s: over %d bytes", path, maxStateFile)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}
