// Package keyfile keeps Ed25519 key pairs in PEM files: the private key as
// PKCS#8 (mode 0600), the public key as PKIX (0644). The fleet key that
// signs enrollment tokens and the release key that signs releases are both
// kept this way, each under its own file names.
package keyfile

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

// PEM block types of the key files.
const (
	privatePEMType = "PRIVATE KEY" // PKCS#8
	publicPEMType  = "PUBLIC KEY"  // PKIX
)

// MaxFileSize bounds what the loaders read: an Ed25519 key in PEM is about
// 120 bytes, so anything large is the wrong file.
const MaxFileSize = 16 << 10

// Pair names the two files of one kind of key.
type Pair struct {
	Private, Public string // file names, e.g. fleet.key and fleet.pub
	Name            string // the key's name in messages: "fleet" (the fleet key)
}

// Generate makes a new key pair.
func (p Pair) Generate() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate %s key: %w", p.Name, err)
	}
	return pub, priv, nil
}

// Write writes priv to dir/p.Private (mode 0600) and pub to dir/p.Public
// (mode 0644), creating dir (0700) if needed. It refuses to overwrite
// either file: a lost key invalidates everything it signed.
func (p Pair) Write(dir string, pub ed25519.PublicKey, priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("write %s key: not an Ed25519 key pair", p.Name)
	}
	if !pub.Equal(priv.Public()) {
		return fmt.Errorf("write %s key: public key does not belong to the private key", p.Name)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("write %s key: %w", p.Name, err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("write %s key: %w", p.Name, err)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write %s key: %w", p.Name, err)
	}
	privPath := filepath.Join(dir, p.Private)
	pubPath := filepath.Join(dir, p.Public)
	// Check both first so that an existing public key does not leave a
	// fresh private key behind.
	for _, path := range []string{privPath, pubPath} {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("write %s key: %s already exists; refusing to overwrite it (move it away first if you really mean to replace the %s key)", p.Name, path, p.Name)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("write %s key: %w", p.Name, err)
		}
	}

	if err := writeNewPEM(privPath, privatePEMType, privDER, 0o600); err != nil {
		return fmt.Errorf("write %s key: %w", p.Name, err)
	}
	if err := writeNewPEM(pubPath, publicPEMType, pubDER, 0o644); err != nil {
		os.Remove(privPath) // do not leave half a pair behind
		return fmt.Errorf("write %s key: %w", p.Name, err)
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

// LoadPrivate reads a private key written by Write.
func (p Pair) LoadPrivate(path string) (ed25519.PrivateKey, error) {
	der, err := readPEM(path, privatePEMType, "the "+p.Name+" private key ("+p.Private+")")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("load private key %s: %w", path, err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("load private key %s: a %T, not an Ed25519 %s key", path, key, p.Name)
	}
	return priv, nil
}

// LoadPublic reads a public key written by Write.
func (p Pair) LoadPublic(path string) (ed25519.PublicKey, error) {
	der, err := readPEM(path, publicPEMType, "the "+p.Name+" public key ("+p.Public+")")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", path, err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("load public key %s: a %T, not an Ed25519 %s key", path, key, p.Name)
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
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", what, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("load %s: %s is over %d bytes; not a key file", what, path, MaxFileSize)
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
