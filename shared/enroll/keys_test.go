package enroll

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"casefleet/shared/keyfile"
)

func TestKeyFilesRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys") // WriteKeyPair creates it
	pub, priv := newKey(t)
	if err := WriteKeyPair(dir, pub, priv); err != nil {
		t.Fatalf("WriteKeyPair: %v", err)
	}

	gotPriv, err := LoadPrivateKey(filepath.Join(dir, PrivateKeyFile))
	if err != nil {
		t.Fatalf("LoadPrivateKey: %v", err)
	}
	gotPub, err := LoadPublicKey(filepath.Join(dir, PublicKeyFile))
	if err != nil {
		t.Fatalf("LoadPublicKey: %v", err)
	}
	if !gotPriv.Equal(priv) || !gotPub.Equal(pub) {
		t.Fatal("loaded keys differ from the written ones")
	}
	// A token issued with the loaded private key verifies with the loaded public key.
	if _, err := Verify(gotPub, issue(t, gotPriv, Claims{Machine: "CT0700026"}), now.AddDate(1, 0, 0)); err != nil {
		t.Errorf("Verify with loaded keys: %v", err)
	}

	privPEM, _ := os.ReadFile(filepath.Join(dir, PrivateKeyFile))
	pubPEM, _ := os.ReadFile(filepath.Join(dir, PublicKeyFile))
	if !strings.HasPrefix(string(privPEM), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("fleet.key is not a PKCS#8 PEM block:\n%s", privPEM)
	}
	if !strings.HasPrefix(string(pubPEM), "-----BEGIN PUBLIC KEY-----") {
		t.Errorf("fleet.pub is not a PKIX PEM block:\n%s", pubPEM)
	}
}

func TestKeyFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix file modes")
	}
	dir := t.TempDir()
	pub, priv := newKey(t)
	if err := WriteKeyPair(dir, pub, priv); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{PrivateKeyFile: 0o600, PublicKeyFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", name, got, want)
		}
	}
}

func TestWriteKeyPairRefusesToOverwrite(t *testing.T) {
	pub, priv := newKey(t)
	for _, existing := range []string{PrivateKeyFile, PublicKeyFile} {
		t.Run(existing, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, existing)
			if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
				t.Fatal(err)
			}
			err := WriteKeyPair(dir, pub, priv)
			if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
				t.Fatalf("WriteKeyPair over an existing %s: %v, want a refusal", existing, err)
			}
			if b, _ := os.ReadFile(path); string(b) != "precious" {
				t.Errorf("%s was changed to %q", existing, b)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("WriteKeyPair left %d files behind, want only the existing one", len(entries))
			}
		})
	}
}

func TestWriteKeyPairRefusesMismatchedPair(t *testing.T) {
	pub, _ := newKey(t)
	_, priv := newKey(t)
	if err := WriteKeyPair(t.TempDir(), pub, priv); err == nil {
		t.Error("WriteKeyPair with keys of two pairs: want an error")
	}
	if err := WriteKeyPair(t.TempDir(), nil, nil); err == nil {
		t.Error("WriteKeyPair with no keys: want an error")
	}
}

func TestLoadKeyErrors(t *testing.T) {
	dir := t.TempDir()
	pub, priv := newKey(t)
	if err := WriteKeyPair(dir, pub, priv); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	privPath := filepath.Join(dir, PrivateKeyFile)
	pubPath := filepath.Join(dir, PublicKeyFile)
	rsaLike := write("rsa.pem", "-----BEGIN PRIVATE KEY-----\nMIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEA\n-----END PRIVATE KEY-----\n")

	tests := []struct {
		name string
		load func(string) error
		path string
		want string
	}{
		{"private from public file", loadPriv, pubPath, `"PUBLIC KEY" PEM block, want "PRIVATE KEY"`},
		{"public from private file", loadPub, privPath, `"PRIVATE KEY" PEM block, want "PUBLIC KEY"`},
		{"missing file", loadPriv, filepath.Join(dir, "nope.key"), "no such file"},
		{"not PEM", loadPub, write("text.pub", "hello"), "no PEM block"},
		{"empty", loadPriv, write("empty.key", ""), "no PEM block"},
		{"huge", loadPub, write("huge.pub", strings.Repeat("x", keyfile.MaxFileSize+1)), "not a key file"},
		{"broken DER", loadPriv, rsaLike, "load private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.load(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("load %s: %v, want an error saying %q", tt.path, err, tt.want)
			}
		})
	}
}

func loadPriv(p string) error { _, err := LoadPrivateKey(p); return err }
func loadPub(p string) error  { _, err := LoadPublicKey(p); return err }
