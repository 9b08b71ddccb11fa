package push

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// vapidLifetime is how long a VAPID token is valid; RFC 8292 allows at
// most 24 hours.
const vapidLifetime = 12 * time.Hour

// vapidKey is the agent's application server key (RFC 8292).
type vapidKey struct {
	priv   *ecdsa.PrivateKey
	public string // base64url of the uncompressed point: the browser's applicationServerKey
}

func newVAPIDKey() (*vapidKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate VAPID key: %w", err)
	}
	return vapidFromECDSA(priv)
}

// parseVAPIDKey reads a key stored by raw.
func parseVAPIDKey(raw []byte) (*vapidKey, error) {
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	if err != nil {
		return nil, fmt.Errorf("stored VAPID key: %w", err)
	}
	return vapidFromECDSA(priv)
}

func vapidFromECDSA(priv *ecdsa.PrivateKey) (*vapidKey, error) {
	pub, err := priv.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("VAPID public key: %w", err)
	}
	return &vapidKey{priv: priv, public: b64.EncodeToString(pub)}, nil
}

// raw is the private key as stored: a 32-byte big-endian scalar.
func (k *vapidKey) raw() ([]byte, error) { return k.priv.Bytes() }

// authorization is the Authorization header for a message to endpoint:
// "vapid t=<JWT>, k=<public key>".
func (k *vapidKey) authorization(endpoint *url.URL, subject string, now time.Time) (string, error) {
	t, err := k.token(origin(endpoint), subject, now.Add(vapidLifetime))
	if err != nil {
		return "", err
	}
	return "vapid t=" + t + ", k=" + k.public, nil
}

// origin is the URL's origin as browsers serialise it (RFC 6454): the
// token's audience.
func origin(u *url.URL) string {
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	} else if scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	}
	return scheme + "://" + host
}

// token is an ES256 JWT with the claims RFC 8292 asks for.
func (k *vapidKey) token(aud, sub string, exp time.Time) (string, error) {
	header := `{"typ":"JWT","alg":"ES256"}`
	claims, err := json.Marshal(struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}{aud, exp.Unix(), sub})
	if err != nil {
		return "", err
	}
	signing := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign VAPID token: %w", err)
	}
	// JWS ES256 signatures are R || S, each 32 bytes big-endian.
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + b64.EncodeToString(sig), nil
}

// b64 is the base64url alphabet without padding, as Web Push uses it.
var b64 = base64.RawURLEncoding
