// Package releasetest makes release signing keys for tests.
package releasetest

import (
	"crypto/ed25519"
	"testing"

	"casefleet/shared/release"
)

// Keys generates a release key pair and writes it into a temporary
// directory as release-keygen does (release.PrivateKeyFile and
// release.PublicKeyFile); it returns the directory and the keys.
func Keys(t testing.TB) (dir string, pub ed25519.PublicKey, priv ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := release.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if err := release.WriteKeyPair(dir, pub, priv); err != nil {
		t.Fatal(err)
	}
	return dir, pub, priv
}
