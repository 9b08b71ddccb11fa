package updates

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"casefleet/shared/release"
)

// manifestFile is the name under which the update API serves a release's
// signed manifest.
const manifestFile = "manifest.json"

// ManifestName is the signed manifest's file in the releases directory,
// DIR/VERSION/ManifestName(VERSION): as make package names it, so that
// its output is copied as it is.
func ManifestName(version string) string {
	return "casefleet-agent-" + strings.TrimPrefix(version, "v") + ".manifest.json"
}

// releases reads the releases directory, checking each manifest with the
// release key and remembering it until its file changes.
type releases struct {
	dir string
	pub ed25519.PublicKey

	mu    sync.Mutex
	cache map[string]loadedManifest // by version
}

type loadedManifest struct {
	stamp    stamp
	signed   []byte
	manifest release.Manifest
	err      error
}

// CheckRelease reads version's release from dir and checks its manifest
// with pub: for operators' commands, before a rollout points at it.
func CheckRelease(dir string, pub ed25519.PublicKey, version string) (release.Manifest, error) {
	r := &releases{dir: dir, pub: pub, cache: map[string]loadedManifest{}}
	_, m, err := r.manifest(version)
	if err != nil {
		return release.Manifest{}, err
	}
	for _, p := range m.Packages {
		f, err := os.Open(filepath.Join(dir, version, p.File))
		if err != nil {
			return release.Manifest{}, fmt.Errorf("release %s: %w", version, err)
		}
		err = p.Check(f)
		f.Close()
		if err != nil {
			return release.Manifest{}, fmt.Errorf("release %s: %w", version, err)
		}
	}
	return m, nil
}

// manifest returns the signed manifest of version and what it says, or
// why it cannot be offered.
func (r *releases) manifest(version string) ([]byte, release.Manifest, error) {
	if !release.IsVersion(version) || filepath.Base(version) != version {
		return nil, release.Manifest{}, fmt.Errorf("release %q: not a version", version)
	}
	path := filepath.Join(r.dir, version, ManifestName(version))
	st, err := stampOf(path)
	if err != nil {
		return nil, release.Manifest{}, fmt.Errorf("release %s: %w", version, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.cache[version]; ok && c.stamp == st {
		return c.signed, c.manifest, c.err
	}
	c := loadedManifest{stamp: st}
	c.signed, c.err = readSmall(path, release.MaxSignedSize)
	if c.err == nil {
		c.manifest, c.err = release.Verify(r.pub, c.signed)
	}
	if c.err == nil && c.manifest.Version != version {
		c.err = fmt.Errorf("its manifest is for %s", c.manifest.Version)
	}
	if c.err != nil {
		c.err = fmt.Errorf("release %s (%s): %w", version, path, c.err)
	}
	r.cache[version] = c
	return c.signed, c.manifest, c.err
}

// open opens a file of version's release: its manifest, or a package the
// manifest names (nothing else in the directory is served).
func (r *releases) open(version, file string) (*os.File, error) {
	_, m, err := r.manifest(version)
	if err != nil {
		return nil, err
	}
	if file != manifestFile {
		named := false
		for _, p := range m.Packages {
			named = named || p.File == file
		}
		if !named {
			return nil, fmt.Errorf("release %s has no file %q", version, file)
		}
	}
	if file == manifestFile {
		file = ManifestName(version)
	}
	return os.Open(filepath.Join(r.dir, version, file))
}

func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is over %d bytes", path, limit)
	}
	return b, nil
}
