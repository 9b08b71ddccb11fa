package enroll

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"casefleet/shared/machine"
)

// TokenPrefix starts every token and names its format version.
const TokenPrefix = "cf1."

// MaxTokenSize bounds a token; longer input is refused before any decoding.
const MaxTokenSize = 2 << 10

// MaxLocationLen bounds Claims.Location.
const MaxLocationLen = 128

// ClockSkew is how far in the future a token's issue time may lie (the
// issuer's clock may run ahead of the relay's) before it is refused.
const ClockSkew = 5 * time.Minute

// Sentinel errors of Verify and the checks after it. The errors returned
// wrap one of these and read well on their own, for a technician.
var (
	ErrMalformed    = errors.New("malformed token")
	ErrBadSignature = errors.New("token was not signed by this fleet key")
	ErrExpired      = errors.New("token expired")
	ErrNotYetValid  = errors.New("token not yet valid")
	ErrRevoked      = errors.New("token revoked")
	ErrWrongMachine = errors.New("token is for another machine")
)

// Claims is what a token says about the kiosk that holds it.
type Claims struct {
	Machine   string `json:"machine"`  // the machine code the token is for
	Location  string `json:"location"` // where the kiosk stands, may be empty
	IssuedAt  int64  `json:"iat"`      // Unix seconds
	ExpiresAt int64  `json:"exp"`      // Unix seconds; 0 means it never expires
	ID        string `json:"jti"`      // random, unique per token, for revocation
}

// CheckMachine returns an error wrapping ErrWrongMachine unless the token
// is for the machine code the kiosk claims to be.
func (c Claims) CheckMachine(code string) error {
	if c.Machine != code {
		return &tokenError{ErrWrongMachine, fmt.Sprintf("token is for %s, not %s", c.Machine, code)}
	}
	return nil
}

// tokenError pairs a sentinel, for callers to test with errors.Is, with a
// full sentence for the person reading it.
type tokenError struct {
	kind error
	msg  string
}

func (e *tokenError) Error() string { return e.msg }
func (e *tokenError) Unwrap() error { return e.kind }

var b64 = base64.RawURLEncoding.Strict()

// Issue signs claims into a token. An empty ID gets a random one and a zero
// IssuedAt gets the current time.
func Issue(priv ed25519.PrivateKey, c Claims) (string, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return "", errors.New("issue token: not an Ed25519 private key")
	}
	if err := machine.ValidateCode(c.Machine); err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	if c.ID == "" {
		c.ID = newID()
	}
	if c.IssuedAt == 0 {
		c.IssuedAt = time.Now().Unix()
	}
	if err := c.validate(); err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	body, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	signed := TokenPrefix + b64.EncodeToString(body)
	token := signed + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(signed)))
	if len(token) > MaxTokenSize {
		return "", fmt.Errorf("issue token: %d bytes, over the %d-byte limit (shorten the location)", len(token), MaxTokenSize)
	}
	return token, nil
}

// Verify checks a token's form and signature, then its time window, and
// returns its claims. It does not check revocations or which machine
// presents it: see Verifier for all checks at once.
func Verify(pub ed25519.PublicKey, token string, now time.Time) (Claims, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Claims{}, errors.New("verify token: not an Ed25519 public key")
	}
	signed, body, sig, err := split(token)
	if err != nil {
		return Claims{}, err
	}
	if !ed25519.Verify(pub, []byte(signed), sig) {
		return Claims{}, &tokenError{ErrBadSignature, "token was not signed by this fleet key (tampered with, or issued for another relay)"}
	}

	// Only signed bytes reach the JSON decoder.
	c, err := decodeClaims(body)
	if err != nil {
		return Claims{}, err
	}
	if c.IssuedAt > now.Add(ClockSkew).Unix() {
		return Claims{}, &tokenError{ErrNotYetValid, fmt.Sprintf(
			"token for %s is issued in the future, on %s; check the clocks of the relay and of the machine that issued it",
			c.Machine, formatUnix(c.IssuedAt))}
	}
	if c.ExpiresAt != 0 && now.Unix() >= c.ExpiresAt {
		return Claims{}, &tokenError{ErrExpired, fmt.Sprintf(
			"token for %s expired on %s; issue a new one", c.Machine, formatUnix(c.ExpiresAt))}
	}
	return c, nil
}

// Inspect reads a token's claims WITHOUT checking its signature or times:
// for a kiosk, which holds no fleet key, to learn which machine and
// location it was issued for. Only the relay's Verify makes a token
// trustworthy.
func Inspect(token string) (Claims, error) {
	_, body, _, err := split(token)
	if err != nil {
		return Claims{}, err
	}
	return decodeClaims(body)
}

// split checks a token's form and returns its signed part, the claims'
// JSON and the signature.
func split(token string) (signed string, body, sig []byte, err error) {
	if len(token) > MaxTokenSize {
		return "", nil, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(token), MaxTokenSize)
	}
	if !strings.HasPrefix(token, TokenPrefix) {
		return "", nil, nil, fmt.Errorf("%w: it does not start with %q", ErrMalformed, TokenPrefix)
	}
	dot := strings.LastIndexByte(token, '.')
	if dot < len(TokenPrefix) {
		return "", nil, nil, fmt.Errorf("%w: no signature part", ErrMalformed)
	}
	signed, sigPart := token[:dot], token[dot+1:]
	if body, err = b64.DecodeString(signed[len(TokenPrefix):]); err != nil {
		return "", nil, nil, fmt.Errorf("%w: claims are not base64url", ErrMalformed)
	}
	if sig, err = b64.DecodeString(sigPart); err != nil || len(sig) != ed25519.SignatureSize {
		return "", nil, nil, fmt.Errorf("%w: signature is not %d bytes of base64url", ErrMalformed, ed25519.SignatureSize)
	}
	return signed, body, sig, nil
}

func decodeClaims(body []byte) (Claims, error) {
	var c Claims
	if err := json.Unmarshal(body, &c); err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	if err := machine.ValidateCode(c.Machine); err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := c.validate(); err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return c, nil
}

// validate checks the claims other than the machine code (checked by the
// caller with machine.ValidateCode for its own wording).
func (c Claims) validate() error {
	if c.ID == "" || len(c.ID) > 64 {
		return errors.New("token id (jti) must be 1 to 64 characters")
	}
	if c.IssuedAt <= 0 {
		return errors.New("issue time (iat) must be set")
	}
	if c.ExpiresAt < 0 || (c.ExpiresAt != 0 && c.ExpiresAt <= c.IssuedAt) {
		return fmt.Errorf("expiry (exp %d) must be after the issue time (iat %d), or 0 for none", c.ExpiresAt, c.IssuedAt)
	}
	if len(c.Location) > MaxLocationLen {
		return fmt.Errorf("location is %d bytes, at most %d", len(c.Location), MaxLocationLen)
	}
	if !utf8.ValidString(c.Location) || strings.ContainsFunc(c.Location, unicode.IsControl) {
		return errors.New("location must be printable UTF-8 text")
	}
	return nil
}

// newID returns 128 random bits, base64url encoded (22 characters).
func newID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than returning an error)
	return b64.EncodeToString(b[:])
}

// formatUnix writes a Unix time the way a technician reads it:
// "2026-11-01 10:00 UTC".
func formatUnix(sec int64) string {
	return time.Unix(sec, 0).UTC().Format("2006-01-02 15:04 MST")
}
