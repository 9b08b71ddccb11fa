package updates

import (
	"bytes"
	"casefleet/shared/release"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"go.yaml.in/yaml/v3"

	"casefleet/shared/machine"
)

// Rollout is the operator's rollout file: which machines should run
// Target, and when to stop.
type Rollout struct {
	Target    string   `yaml:"target"`
	Percent   float64  `yaml:"percent"`   // of all machines, by a stable hash of the code
	Locations []string `yaml:"locations"` // every machine at these
	Canaries  []string `yaml:"canaries"`  // these machines
	// HaltAfter is how many machines may fail or roll back on Target
	// before the rollout stops offering it. 0 means DefaultHaltAfter.
	HaltAfter int `yaml:"halt_after"`
	// AllowDowngrade lets Target be older than what a machine runs: going
	// back on purpose. Without it no machine is ever offered an older
	// version.
	AllowDowngrade bool `yaml:"allow_downgrade"`
}

// DefaultHaltAfter is HaltAfter when the file does not say.
const DefaultHaltAfter = 2

// maxRolloutFile bounds the rollout file.
const maxRolloutFile = 256 << 10

// LoadRollout reads and checks the rollout file. A missing file is no
// rollout (every machine stays as it is).
func LoadRollout(path string) (Rollout, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Rollout{}, nil
	}
	if err != nil {
		return Rollout{}, fmt.Errorf("rollout file: %w", err)
	}
	return ParseRollout(b)
}

// ParseRollout parses and checks a rollout file's contents.
func ParseRollout(b []byte) (Rollout, error) {
	if len(b) > maxRolloutFile {
		return Rollout{}, fmt.Errorf("rollout file: %d bytes, at most %d", len(b), maxRolloutFile)
	}
	var r Rollout
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil && !errors.Is(err, io.EOF) { // EOF: an empty file
		return Rollout{}, fmt.Errorf("rollout file: %w", err)
	}
	if err := r.Validate(); err != nil {
		return Rollout{}, fmt.Errorf("rollout file: %w", err)
	}
	return r, nil
}

// Validate says what is wrong with r, naming the key.
func (r Rollout) Validate() error {
	if r.Target == "" {
		if r.Percent != 0 || len(r.Locations) > 0 || len(r.Canaries) > 0 {
			return errors.New("target: no version given, but machines are chosen for it")
		}
		return nil
	}
	if !release.IsVersion(r.Target) || len(r.Target) > 64 {
		return fmt.Errorf("target: %q is not a version like v1.6.0", r.Target)
	}
	if r.Percent < 0 || r.Percent > 100 {
		return fmt.Errorf("percent: %v is not between 0 and 100", r.Percent)
	}
	if r.HaltAfter < 0 {
		return fmt.Errorf("halt_after: %d is negative", r.HaltAfter)
	}
	for _, c := range r.Canaries {
		if err := machine.ValidateCode(c); err != nil {
			return fmt.Errorf("canaries: %w", err)
		}
	}
	for _, l := range r.Locations {
		if l == "" || len(l) > 128 {
			return fmt.Errorf("locations: %q is not a location", l)
		}
	}
	return nil
}

func (r Rollout) haltAfter() int {
	if r.HaltAfter == 0 {
		return DefaultHaltAfter
	}
	return r.HaltAfter
}

// Chooses reports whether the rollout picks the machine: a canary, at one
// of its locations, or among its percent. The percent is taken by a hash
// of the code alone, so that raising it keeps the machines already picked.
func (r Rollout) Chooses(code, location string) bool {
	if r.Target == "" {
		return false
	}
	if slices.Contains(r.Canaries, code) || (location != "" && slices.Contains(r.Locations, location)) {
		return true
	}
	return float64(bucket(code)) < r.Percent*100
}

// bucket places a machine code in 0..9999, the same every time.
func bucket(code string) uint32 {
	h := sha256.Sum256([]byte("casefleet-rollout\n" + code))
	return binary.BigEndian.Uint32(h[:4]) % 10000
}

// Save writes r to path atomically, after checking it.
func (r Rollout) Save(path string) error {
	if err := r.Validate(); err != nil {
		return err
	}
	b, err := yaml.Marshal(r)
	if err != nil {
		return err
	}
	b = append([]byte("# casefleet rollout (docs/updates.md); written by casefleet-relay rollout set\n"), b...)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".rollout-*")
	if err != nil {
		return fmt.Errorf("write rollout file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write rollout file: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write rollout file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write rollout file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write rollout file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write rollout file: %w", err)
	}
	return nil
}
