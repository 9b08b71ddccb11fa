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
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Names of the key files that WriteKeyPair writes into its directory.
const (
	PrivateKeyFile = "fleet.key"
	PublicKeyFile  = "fleet.pub"
)

// PEM block types of the key files.
const (
	privatePEMType = "PRIVATE KEY" // PKCS#8
	publicPEMType  = "PUBLIC KEY"  // PKIX
)

// maxKeyFileSize bounds what LoadPrivateKey and LoadPublicKey read: an
// Ed25519 key in PEM is about 120 bytes, so anything large is the wrong file.
const maxKeyFileSize = 16 << 10

// GenerateKey makes a new fleet key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate fleet key: %w", err)
	}
	return pub, priv, nil
}

// WriteKeyPair writes priv to dir/fleet.key (mode 0600) and pub to
// dir/fleet.pub (mode 0644), creating dir (0700) if needed. It refuses to
// overwrite either file: losing a fleet key invalidates every token issued
// with it.
func WriteKeyPair(dir string, pub ed25519.PublicKey, priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize || len(pub) != ed25519.PublicKeySize {
		return errors.New("write fleet key: not an Ed25519 key pair")
	}
	if !pub.Equal(priv.Public()) {
		return errors.New("write fleet key: public key does not belong to the private key")
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("write fleet key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("write fleet key: %w", err)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write fleet key: %w", err)
	}
	privPath := filepath.Join(dir, PrivateKeyFile)
	pubPath := filepath.Join(dir, PublicKeyFile)
	// Check both first so that an existing public key does not leave a
	// fresh private key behind.
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("write fleet key: %s already exists; refusing to overwrite it (move it away first if you really mean to replace the fleet key)", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("write fleet key: %w", err)
		}
	}

	if err := writeNewPEM(privPath, privatePEMType, privDER, 0o600); err != nil {
		return fmt.Errorf("write fleet key: %w", err)
	}
	if err := writeNewPEM(pubPath, publicPEMType, pubDER, 0o644); err != nil {
		os.Remove(privPath) // do not leave half a pair behind
		return fmt.Errorf("write fleet key: %w", err)
	}
	return nil
}

// writeNewPEM creates path (never replacing an existing file) with the
// given mode, whatever the umask, and writes one PEM block to it.
func writeNewPEM(path, blockType string, der []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	err = f.Chmod(mode)
	if err == nil {
		err = pem.Encode(f, &pem.Block{Type: blockType, Bytes: der})
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// LoadPrivateKey reads the fleet private key written by WriteKeyPair.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	der, err := readPEM(path, privatePEMType, "the fleet private key ("+PrivateKeyFile+")")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("load private key %s: %w", path, err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("load private key %s: a %T, not an Ed25519 fleet key", path, key)
	}
	return priv, nil
}

// LoadPublicKey reads the fleet public key written by WriteKeyPair.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	der, err := readPEM(path, publicPEMType, "the fleet public key ("+PublicKeyFile+")")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", path, err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("load public key %s: a %T, not an Ed25519 fleet key", path, key)
	}
	return pub, nil
}

// readPEM reads the one PEM block of the wanted type from path, explaining
// the usual mistake (the other key of the pair) in words.
func readPEM(path, wantType, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", what, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", what, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("load %s: %s is over %d bytes; not a key file", what, path, maxKeyFileSize)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("load %s: %s holds no PEM block", what, path)
	}
	if block.Type != wantType {
		return nil, fmt.Errorf("load %s: %s holds a %q PEM block, want %q", what, path, block.Type, wantType)
	}
	return block.Bytes, nil
}
