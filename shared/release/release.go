// Package release is what an agent update is made of: a manifest naming a
// version and, for each platform, the package's file, size and SHA-256,
// signed with the fleet's release key (Ed25519, kept offline like the
// fleet key). An agent installs a package only if the manifest's signature
// checks against the release public key it was installed with and the
// package's size and hash match the manifest's.
//
// A signed manifest is a JSON object {"manifest": M, "signature": S}, M
// being the manifest's JSON as base64url and S the Ed25519 signature, also
// base64url, over "casefleet-release-v1\n" followed by M's bytes: the
// prefix keeps a signature by the release key from meaning anything
// elsewhere.
package release

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"casefleet/shared/keyfile"
)

// Names of the release key files that WriteKeyPair writes.
const (
	PrivateKeyFile = "release.key"
	PublicKeyFile  = "release.pub"
)

func releaseKey() keyfile.Pair {
	return keyfile.Pair{Private: PrivateKeyFile, Public: PublicKeyFile, Name: "release"}
}

// GenerateKey makes a new release key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) { return releaseKey().Generate() }

// WriteKeyPair writes the pair to dir/release.key (0600) and
// dir/release.pub (0644); it never overwrites either.
func WriteKeyPair(dir string, pub ed25519.PublicKey, priv ed25519.PrivateKey) error {
	return releaseKey().Write(dir, pub, priv)
}

// LoadPrivateKey reads release.key.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) { return releaseKey().LoadPrivate(path) }

// LoadPublicKey reads release.pub.
func LoadPublicKey(path string) (ed25519.PublicKey, error) { return releaseKey().LoadPublic(path) }

// Platforms a release carries packages for.
const (
	LinuxAMD64Deb   = "linux-amd64-deb"
	LinuxARM64Deb   = "linux-arm64-deb"
	LinuxAMD64RPM   = "linux-amd64-rpm"
	LinuxARM64RPM   = "linux-arm64-rpm"
	WindowsAMD64MSI = "windows-amd64-msi"
)

// platformSuffixes tell a package's platform by its file name, as
// packaging/build.sh names them.
func platformSuffixes() []struct{ suffix, platform string } {
	return []struct{ suffix, platform string }{
		{"_amd64.deb", LinuxAMD64Deb},
		{"_arm64.deb", LinuxARM64Deb},
		{".x86_64.rpm", LinuxAMD64RPM},
		{".aarch64.rpm", LinuxARM64RPM},
		{"-x64.msi", WindowsAMD64MSI},
	}
}

// PlatformOf is the platform of a package file named as build.sh names
// them, or "" for any other file.
func PlatformOf(name string) string {
	for _, s := range platformSuffixes() {
		if strings.HasSuffix(name, s.suffix) {
			return s.platform
		}
	}
	return ""
}

// Manifest is one release.
type Manifest struct {
	Version  string    `json:"version"` // as the agent reports it: v1.5.0, v1.5.0-3-gabc1234
	Created  time.Time `json:"created"`
	Packages []Package `json:"packages"`
}

// Package is one platform's installable file.
type Package struct {
	Platform string `json:"platform"`
	File     string `json:"file"`   // a base name, served beside the manifest
	Size     int64  `json:"size"`   // bytes
	SHA256   string `json:"sha256"` // lower-case hex
}

// Limits of what Verify accepts.
const (
	MaxSignedSize   = 64 << 10
	maxPackages     = 16
	maxVersionLen   = 64
	maxFileNameLen  = 200
	signaturePrefix = "casefleet-release-v1\n"
)

var (
	// ErrMalformed is wrapped by the errors of a manifest that does not
	// parse or breaks the rules of Validate.
	ErrMalformed = errors.New("malformed release manifest")
	// ErrBadSignature is wrapped when the signature does not check
	// against the release key: a manifest not signed by the fleet's
	// release key, or changed after signing.
	ErrBadSignature = errors.New("release manifest signature does not match the release key")
	// ErrNoPackage is wrapped when a release has nothing for a platform.
	ErrNoPackage = errors.New("release has no package for this platform")
	// ErrMismatch is wrapped when a package file is not what the manifest
	// says (size or SHA-256).
	ErrMismatch = errors.New("package does not match the release manifest")
)

var (
	versionPattern = regexp.MustCompile(`^v?[0-9]+(\.[0-9]+){0,2}([-+~][0-9A-Za-z.+~-]+)?$`)
	hashPattern    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate checks what a manifest must be: a version like git describe's,
// at least one package, known platforms each once, plain file names,
// sizes above zero and SHA-256 hashes in lower-case hex.
func (m Manifest) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
	}
	if !IsVersion(m.Version) {
		return bad("version %q is not like v1.5.0", truncate(m.Version))
	}
	if len(m.Packages) == 0 {
		return bad("no packages")
	}
	if len(m.Packages) > maxPackages {
		return bad("%d packages (at most %d)", len(m.Packages), maxPackages)
	}
	seen := map[string]bool{}
	for _, p := range m.Packages {
		if !knownPlatform(p.Platform) {
			return bad("unknown platform %q", truncate(p.Platform))
		}
		if seen[p.Platform] {
			return bad("two packages for %s", p.Platform)
		}
		seen[p.Platform] = true
		if p.File == "" || len(p.File) > maxFileNameLen || p.File != filepath.Base(p.File) ||
			strings.ContainsAny(p.File, `/\`+"\x00") || p.File == "." || p.File == ".." || strings.HasPrefix(p.File, ".") {
			return bad("%s: file name %q is not a plain file name", p.Platform, truncate(p.File))
		}
		if p.Size <= 0 {
			return bad("%s: size %d", p.Platform, p.Size)
		}
		if !hashPattern.MatchString(p.SHA256) {
			return bad("%s: sha256 %q is not 64 lower-case hex digits", p.Platform, truncate(p.SHA256))
		}
	}
	return nil
}

func knownPlatform(p string) bool {
	for _, s := range platformSuffixes() {
		if s.platform == p {
			return true
		}
	}
	return false
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// For returns the release's package for platform.
func (m Manifest) For(platform string) (Package, error) {
	for _, p := range m.Packages {
		if p.Platform == platform {
			return p, nil
		}
	}
	return Package{}, fmt.Errorf("%w: %s has none for %s", ErrNoPackage, m.Version, platform)
}

// signed is the file format of a signed manifest.
type signed struct {
	Manifest  string `json:"manifest"`
	Signature string `json:"signature"`
}

var b64 = base64.RawURLEncoding.Strict()

// Sign validates m and returns it signed with priv, ready to be written
// to a file.
func Sign(priv ed25519.PrivateKey, m Manifest) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("sign release manifest: not an Ed25519 private key")
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("sign release manifest: %w", err)
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("sign release manifest: %w", err)
	}
	enc := b64.EncodeToString(body)
	sig := ed25519.Sign(priv, []byte(signaturePrefix+enc))
	out, err := json.MarshalIndent(signed{Manifest: enc, Signature: b64.EncodeToString(sig)}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sign release manifest: %w", err)
	}
	return append(out, '\n'), nil
}

// Verify checks a signed manifest against the release public key and
// returns the manifest. Nothing of the manifest is believed before its
// signature checks.
func Verify(pub ed25519.PublicKey, data []byte) (Manifest, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Manifest{}, errors.New("verify release manifest: not an Ed25519 public key")
	}
	if len(data) > MaxSignedSize {
		return Manifest{}, fmt.Errorf("%w: %d bytes (at most %d)", ErrMalformed, len(data), MaxSignedSize)
	}
	var s signed
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Manifest{}, fmt.Errorf("%w: data after the signed manifest", ErrMalformed)
	}
	sig, err := b64.DecodeString(s.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Manifest{}, fmt.Errorf("%w: signature is not %d bytes of base64url", ErrMalformed, ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, []byte(signaturePrefix+s.Manifest), sig) {
		return Manifest{}, ErrBadSignature
	}
	body, err := b64.DecodeString(s.Manifest)
	if err != nil {
		return Manifest{}, fmt.Errorf("%w: manifest is not base64url: %v", ErrMalformed, err)
	}
	var m Manifest
	dec = json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// Describe reads the package file at path and returns its entry for a
// manifest: its platform from its name, its size and its hash.
func Describe(path string) (Package, error) {
	name := filepath.Base(path)
	platform := PlatformOf(name)
	if platform == "" {
		return Package{}, fmt.Errorf("describe package %s: not a package name build.sh makes (_amd64.deb, _arm64.deb, .x86_64.rpm, .aarch64.rpm, -x64.msi)", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return Package{}, fmt.Errorf("describe package: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Package{}, fmt.Errorf("describe package %s: %w", path, err)
	}
	return Package{Platform: platform, File: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Check reads r to its end (at most p.Size+1 bytes) and reports whether it
// is exactly p: its size and SHA-256. A download is checked this way
// before anything installs it.
func (p Package) Check(r io.Reader) error {
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, p.Size+1))
	if err != nil {
		return fmt.Errorf("check %s: %w", p.File, err)
	}
	if n != p.Size {
		return fmt.Errorf("%w: %s is %d bytes, the manifest says %d", ErrMismatch, p.File, n, p.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return fmt.Errorf("%w: %s has SHA-256 %s, the manifest says %s", ErrMismatch, p.File, got, p.SHA256)
	}
	return nil
}
