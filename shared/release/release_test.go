package release

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func testKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func goodManifest() Manifest {
	return Manifest{
		Version: "v1.5.0",
		Created: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC),
		Packages: []Package{
			{Platform: LinuxAMD64Deb, File: "casefleet-agent_1.5.0_amd64.deb", Size: 3, SHA256: hashOf([]byte("deb"))},
			{Platform: WindowsAMD64MSI, File: "casefleet-agent-1.5.0-x64.msi", Size: 3, SHA256: hashOf([]byte("msi"))},
		},
	}
}

func TestSignedManifestVerifiesWithTheReleaseKey(t *testing.T) {
	pub, priv := testKey(t)
	m := goodManifest()
	data, err := Sign(priv, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(pub, data)
	if err != nil {
		t.Fatalf("Verify of a freshly signed manifest: %v", err)
	}
	if got.Version != m.Version || !got.Created.Equal(m.Created) || len(got.Packages) != 2 || got.Packages[1] != m.Packages[1] {
		t.Errorf("Verify = %+v, want %+v", got, m)
	}
	p, err := got.For(WindowsAMD64MSI)
	if err != nil || p.File != "casefleet-agent-1.5.0-x64.msi" {
		t.Errorf("For(msi) = %+v, %v", p, err)
	}
	if _, err := got.For(LinuxARM64Deb); !errors.Is(err, ErrNoPackage) {
		t.Errorf("For a platform the release lacks: %v, want ErrNoPackage", err)
	}
}

// Nothing but the release key's own signature over these very bytes
// passes: another key, a changed manifest, a signature moved from
// another manifest.
func TestForgedAndAlteredManifestsAreRefused(t *testing.T) {
	pub, priv := testKey(t)
	_, otherPriv := testKey(t)
	data, err := Sign(priv, goodManifest())
	if err != nil {
		t.Fatal(err)
	}
	var env signed
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	body, _ := b64.DecodeString(env.Manifest)

	reencode := func(manifest, sig string) []byte {
		b, _ := json.Marshal(signed{Manifest: manifest, Signature: sig})
		return b
	}
	otherSigned, _ := Sign(otherPriv, goodManifest())
	var other signed
	json.Unmarshal(otherSigned, &other)
	cheaper := goodManifest()
	cheaper.Version = "v1.4.0" // a downgrade smuggled under the same signature
	cheaperBody, _ := json.Marshal(cheaper)
	swapped := bytes.Replace(body, []byte(hashOf([]byte("deb"))), []byte(hashOf([]byte("evil"))), 1)

	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"signed by another key", otherSigned},
		{"version changed after signing", reencode(b64.EncodeToString(cheaperBody), env.Signature)},
		{"hash changed after signing", reencode(b64.EncodeToString(swapped), env.Signature)},
		{"another manifest's signature", reencode(env.Manifest, other.Signature)},
		{"signature without the domain prefix", reencode(env.Manifest, b64.EncodeToString(ed25519.Sign(priv, []byte(env.Manifest))))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Verify(pub, tc.data); !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify = %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestMalformedSignedManifestsAreRefused(t *testing.T) {
	pub, priv := testKey(t)
	data, _ := Sign(priv, goodManifest())
	var env signed
	json.Unmarshal(data, &env)
	signBody := func(body string) []byte {
		enc := b64.EncodeToString([]byte(body))
		b, _ := json.Marshal(signed{Manifest: enc, Signature: b64.EncodeToString(ed25519.Sign(priv, []byte(signaturePrefix+enc)))})
		return b
	}
	for _, tc := range []struct {
		name, data string
	}{
		{"empty", ""},
		{"not JSON", "hello"},
		{"a JSON array", "[]"},
		{"unknown field", `{"manifest":"` + env.Manifest + `","signature":"` + env.Signature + `","extra":1}`},
		{"data after it", string(data) + `{}`},
		{"signature not base64url", `{"manifest":"` + env.Manifest + `","signature":"%%%"}`},
		{"signature too short", `{"manifest":"` + env.Manifest + `","signature":"AAAA"}`},
		{"oversized", `{"manifest":"` + strings.Repeat("A", MaxSignedSize) + `"}`},
		{"signed body not JSON", string(signBody("not json"))},
		{"signed body with an unknown field", string(signBody(`{"version":"v1.0.0","packages":[],"evil":true}`))},
		{"signed body breaks the rules", string(signBody(`{"version":"v1.0.0","packages":[]}`))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(pub, []byte(tc.data))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Verify = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestValidateSaysWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Manifest)
		want   string
	}{
		{"no version", func(m *Manifest) { m.Version = "" }, "version"},
		{"version with a path", func(m *Manifest) { m.Version = "../1.0" }, "version"},
		{"version too long", func(m *Manifest) { m.Version = "v1.0.0-" + strings.Repeat("a", 80) }, "version"},
		{"no packages", func(m *Manifest) { m.Packages = nil }, "no packages"},
		{"unknown platform", func(m *Manifest) { m.Packages[0].Platform = "plan9-mips" }, "unknown platform"},
		{"a platform twice", func(m *Manifest) { m.Packages[1].Platform = LinuxAMD64Deb }, "two packages"},
		{"file in a directory", func(m *Manifest) { m.Packages[0].File = "../../etc/passwd" }, "plain file name"},
		{"hidden file", func(m *Manifest) { m.Packages[0].File = ".bashrc" }, "plain file name"},
		{"backslash", func(m *Manifest) { m.Packages[0].File = `..\evil.msi` }, "plain file name"},
		{"empty size", func(m *Manifest) { m.Packages[0].Size = 0 }, "size"},
		{"negative size", func(m *Manifest) { m.Packages[0].Size = -1 }, "size"},
		{"upper-case hash", func(m *Manifest) { m.Packages[0].SHA256 = strings.ToUpper(m.Packages[0].SHA256) }, "sha256"},
		{"short hash", func(m *Manifest) { m.Packages[0].SHA256 = "abc" }, "sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := goodManifest()
			tc.change(&m)
			err := m.Validate()
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want ErrMalformed saying %q", err, tc.want)
			}
			_, priv := testKey(t)
			if _, err := Sign(priv, m); err == nil {
				t.Error("Sign signed a manifest that does not validate")
			}
		})
	}
	for _, v := range []string{"v1.5.0", "1.5.0", "v1.5.0-3-gabc1234", "v2.0.0-rc.1", "0.0.0+gabc1234"} {
		m := goodManifest()
		m.Version = v
		if err := m.Validate(); err != nil {
			t.Errorf("version %q: %v", v, err)
		}
	}
}

// A download is installed only if it is exactly the package the manifest
// names: a short (truncated), long or altered file is refused, and a read
// error is not taken for a match.
func TestCheckComparesSizeAndHash(t *testing.T) {
	content := []byte("the agent's package")
	p := Package{Platform: LinuxAMD64Deb, File: "a_amd64.deb", Size: int64(len(content)), SHA256: hashOf(content)}
	if err := p.Check(bytes.NewReader(content)); err != nil {
		t.Fatalf("Check of the package itself: %v", err)
	}
	altered := bytes.Clone(content)
	altered[0] ^= 1
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"truncated", content[:len(content)-1]},
		{"longer", append(bytes.Clone(content), 'x')},
		{"altered", altered},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := p.Check(bytes.NewReader(tc.data)); !errors.Is(err, ErrMismatch) {
				t.Errorf("Check = %v, want ErrMismatch", err)
			}
		})
	}
	if err := p.Check(iotest.ErrReader(errors.New("disk gone"))); err == nil || errors.Is(err, ErrMismatch) {
		t.Errorf("Check of a failing reader = %v, want the read error", err)
	}
}

func TestDescribeNamesThePlatformFromBuildShsFileNames(t *testing.T) {
	dir := t.TempDir()
	for name, want := range map[string]string{
		"casefleet-agent_1.5.0_amd64.deb":     LinuxAMD64Deb,
		"casefleet-agent_1.5.0_arm64.deb":     LinuxARM64Deb,
		"casefleet-agent-1.5.0-1.x86_64.rpm":  LinuxAMD64RPM,
		"casefleet-agent-1.5.0-1.aarch64.rpm": LinuxARM64RPM,
		"casefleet-agent-1.5.0-x64.msi":       WindowsAMD64MSI,
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(name), 0o644)
		p, err := Describe(path)
		if err != nil || p.Platform != want || p.File != name || p.Size != int64(len(name)) || p.SHA256 != hashOf([]byte(name)) {
			t.Errorf("Describe(%s) = %+v, %v; want platform %s", name, p, err, want)
		}
	}
	other := filepath.Join(dir, "notes.txt")
	os.WriteFile(other, []byte("x"), 0o644)
	if _, err := Describe(other); err == nil {
		t.Error("Describe of a file that is no package: want an error")
	}
	if _, err := Describe(filepath.Join(dir, "missing_amd64.deb")); err == nil {
		t.Error("Describe of a missing file: want an error")
	}
}

func TestReleaseKeyFiles(t *testing.T) {
	dir := t.TempDir()
	pub, priv := testKey(t)
	if err := WriteKeyPair(dir, pub, priv); err != nil {
		t.Fatal(err)
	}
	gotPriv, err := LoadPrivateKey(filepath.Join(dir, PrivateKeyFile))
	if err != nil || !gotPriv.Equal(priv) {
		t.Fatalf("LoadPrivateKey = %v", err)
	}
	gotPub, err := LoadPublicKey(filepath.Join(dir, PublicKeyFile))
	if err != nil || !gotPub.Equal(pub) {
		t.Fatalf("LoadPublicKey = %v", err)
	}
	if err := WriteKeyPair(dir, pub, priv); err == nil || !strings.Contains(err.Error(), "release key") {
		t.Errorf("WriteKeyPair over an existing release key: %v, want a refusal naming the release key", err)
	}
	if _, err := LoadPublicKey(filepath.Join(dir, PrivateKeyFile)); err == nil || !strings.Contains(err.Error(), "release public key") {
		t.Errorf("LoadPublicKey of the private key: %v, want an error naming the release public key", err)
	}
}

func FuzzVerify(f *testing.F) {
	pub, priv := testKey(f)
	good, _ := Sign(priv, goodManifest())
	f.Add(good)
	f.Add([]byte(`{"manifest":"","signature":""}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Verify(pub, data)
		if err != nil {
			return
		}
		// Whatever verifies is a valid manifest, signed by the key.
		if verr := m.Validate(); verr != nil {
			t.Fatalf("Verify accepted a manifest that does not validate: %v", verr)
		}
	})
}
