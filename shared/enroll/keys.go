// Package enroll is the fleet's stateless enrollment: an Ed25519 fleet key
// pair kept by the relay's operator, and compact signed tokens that tell the
// relay which kiosk may open a tunnel for which machine code.
//
// A token is "cf1." + base64url(JSON claims) + "." + base64url(signature),
// where the Ed25519 signature covers the "cf1." prefix and the encoded
// claims. The relay needs only the public key to check a token; it keeps no
// list of enrolled kiosks, only an optional list of revocations.
package enroll

import (
	"crypto/ed25519"

	"casefleet/shared/keyfile"
)

// Names of the key files that WriteKeyPair writes into its directory.
const (
	PrivateKeyFile = "fleet.key"
	PublicKeyFile  = "fleet.pub"
)

// fleetKey is how the fleet key is kept.
func fleetKey() keyfile.Pair {
	return keyfile.Pair{Private: PrivateKeyFile, Public: PublicKeyFile, Name: "fleet"}
}

// GenerateKey makes a new fleet key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) { return fleetKey().Generate() }

// WriteKeyPair writes priv to dir/fleet.key (mode 0600) and pub to
// dir/fleet.pub (mode 0644), creating dir (0700) if needed. It refuses to
// overwrite either file: losing a fleet key invalidates every token issued
// with it.
func WriteKeyPair(dir string, pub ed25519.PublicKey, priv ed25519.PrivateKey) error {
	return fleetKey().Write(dir, pub, priv)
}

// LoadPrivateKey reads the fleet private key written by WriteKeyPair.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) { return fleetKey().LoadPrivate(path) }

// LoadPublicKey reads the fleet public key written by WriteKeyPair.
func LoadPublicKey(path string) (ed25519.PublicKey, error) { return fleetKey().LoadPublic(path) }
