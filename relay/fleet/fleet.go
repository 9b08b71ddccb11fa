// Package fleet holds the operator's commands on the fleet key: making the
// key pair and issuing a kiosk's enrollment token. The relay itself needs
// only the public key (see package enroll).
package fleet

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"time"

	"casefleet/shared/enroll"
)

// Keygen writes a new fleet key pair into dir and returns the paths of the
// private and public key files. It never overwrites an existing key.
func Keygen(dir string) (privPath, pubPath string, err error) {
	pub, priv, err := enroll.GenerateKey()
	if err != nil {
		return "", "", err
	}
	if err := enroll.WriteKeyPair(dir, pub, priv); err != nil {
		return "", "", err
	}
	return filepath.Join(dir, enroll.PrivateKeyFile), filepath.Join(dir, enroll.PublicKeyFile), nil
}

// IssueRequest is what a token is issued for.
type IssueRequest struct {
	KeyFile  string        // the fleet private key (fleet.key)
	Machine  string        // machine code
	Location string        // optional; names the kiosk's site, for alternatives
	TTL      time.Duration // 0: the token never expires
	Now      time.Time     // zero: time.Now()
}

// Issue signs an enrollment token for one machine and returns it with its
// id (jti), the handle to revoke it by.
func Issue(req IssueRequest) (token, id string, err error) {
	if req.TTL < 0 {
		return "", "", fmt.Errorf("issue token: ttl %v is negative", req.TTL)
	}
	priv, err := enroll.LoadPrivateKey(req.KeyFile)
	if err != nil {
		return "", "", err
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	c := enroll.Claims{Machine: req.Machine, Location: req.Location, IssuedAt: now.Unix(), ID: newID()}
	if req.TTL > 0 {
		c.ExpiresAt = now.Add(req.TTL).Unix()
		if c.ExpiresAt <= c.IssuedAt {
			c.ExpiresAt = c.IssuedAt + 1
		}
	}
	token, err = enroll.Issue(priv, c)
	if err != nil {
		return "", "", err
	}
	return token, c.ID, nil
}

// newID is 128 random bits, as enroll makes them.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
