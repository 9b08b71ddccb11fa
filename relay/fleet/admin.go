package fleet

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"casefleet/shared/enroll"
)

// AdminTokenPrefix starts every fleet-owner token. The signature covers
// it, and kiosk tokens start with enroll.TokenPrefix ("cf1."): a kiosk
// token is never an admin token, nor an admin token a kiosk's, whatever is
// done to their text.
const AdminTokenPrefix = "cfadmin1."

// MaxAdminNameLen bounds AdminClaims.Name.
const MaxAdminNameLen = 64

// ErrNotAdminToken means the text is not a fleet-owner token (malformed,
// a kiosk's token, or not signed by this fleet key).
var ErrNotAdminToken = errors.New("not a fleet-owner token")

// AdminClaims is what a fleet-owner token says.
type AdminClaims struct {
	Kind      string `json:"kind"` // always "admin"
	Name      string `json:"name"` // who holds it, for the logs
	IssuedAt  int64  `json:"iat"`  // Unix seconds
	ExpiresAt int64  `json:"exp"`  // Unix seconds; 0: never
	ID        string `json:"jti"`  // random; revoke with jti:<ID>
}

// AdminRequest is what IssueAdmin signs.
type AdminRequest struct {
	KeyFile string        // the fleet private key (fleet.key)
	Name    string        // who the token is for
	TTL     time.Duration // 0: no expiry
	Now     time.Time     // zero: time.Now()
}

// IssueAdmin signs a fleet-owner token (for the relay's /fleet/ page) and
// returns it with its id, the handle to revoke it by.
func IssueAdmin(req AdminRequest) (token, id string, err error) {
	if req.TTL < 0 {
		return "", "", fmt.Errorf("issue admin token: ttl %v is negative", req.TTL)
	}
	if err := validAdminName(req.Name); err != nil {
		return "", "", fmt.Errorf("issue admin token: %w", err)
	}
	priv, err := enroll.LoadPrivateKey(req.KeyFile)
	if err != nil {
		return "", "", err
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	c := AdminClaims{Kind: "admin", Name: req.Name, IssuedAt: now.Unix(), ID: newID()}
	if req.TTL > 0 {
		c.ExpiresAt = max(now.Add(req.TTL).Unix(), c.IssuedAt+1)
	}
	body, err := json.Marshal(c)
	if err != nil {
		return "", "", fmt.Errorf("issue admin token: %w", err)
	}
	signed := AdminTokenPrefix + base64.RawURLEncoding.EncodeToString(body)
	return signed + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(signed))), c.ID, nil
}

// VerifyAdmin checks a fleet-owner token's form, signature and time
// window, and its id against revs (nil revokes nothing).
func VerifyAdmin(pub ed25519.PublicKey, revs *enroll.Revocations, token string, now time.Time) (AdminClaims, error) {
	if len(pub) != ed25519.PublicKeySize {
		return AdminClaims{}, errors.New("verify admin token: not an Ed25519 public key")
	}
	if len(token) > enroll.MaxTokenSize || !strings.HasPrefix(token, AdminTokenPrefix) {
		return AdminClaims{}, ErrNotAdminToken
	}
	dot := strings.LastIndexByte(token, '.')
	if dot < len(AdminTokenPrefix) {
		return AdminClaims{}, ErrNotAdminToken
	}
	signed := token[:dot]
	b64 := base64.RawURLEncoding.Strict()
	sig, err := b64.DecodeString(token[dot+1:])
	if err != nil || len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, []byte(signed), sig) {
		return AdminClaims{}, ErrNotAdminToken
	}
	body, err := b64.DecodeString(signed[len(AdminTokenPrefix):])
	if err != nil {
		return AdminClaims{}, ErrNotAdminToken
	}
	var c AdminClaims
	if err := json.Unmarshal(body, &c); err != nil || c.Kind != "admin" || c.ID == "" || len(c.ID) > 64 || c.IssuedAt <= 0 || validAdminName(c.Name) != nil {
		return AdminClaims{}, ErrNotAdminToken
	}
	if c.IssuedAt > now.Add(enroll.ClockSkew).Unix() {
		return AdminClaims{}, fmt.Errorf("admin token %s: %w", c.ID, enroll.ErrNotYetValid)
	}
	if c.ExpiresAt != 0 && now.Unix() >= c.ExpiresAt {
		return AdminClaims{}, fmt.Errorf("admin token %s: %w", c.ID, enroll.ErrExpired)
	}
	if err := revs.Check(enroll.Claims{ID: c.ID}); err != nil {
		return AdminClaims{}, fmt.Errorf("admin token %s: %w", c.ID, enroll.ErrRevoked)
	}
	return c, nil
}

func validAdminName(name string) error {
	if name == "" || len(name) > MaxAdminNameLen || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return fmt.Errorf("name must be 1 to %d bytes of printable text", MaxAdminNameLen)
	}
	return nil
}
