package pushtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// VAPIDClaims are the JWT claims of RFC 8292.
type VAPIDClaims struct {
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
	Sub string `json:"sub"`
}

// VerifyVAPID checks an Authorization header "vapid t=JWT, k=KEY": the
// key is publicKey (base64url of the uncompressed P-256 point), the JWT's
// header says ES256 and its signature verifies with that key. It returns
// the claims, unchecked.
func VerifyVAPID(header, publicKey string) (VAPIDClaims, error) {
	rest, ok := strings.CutPrefix(header, "vapid ")
	if !ok {
		return VAPIDClaims{}, fmt.Errorf("scheme of %q is not vapid", header)
	}
	params := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		params[k] = v
	}
	if params["k"] != publicKey {
		return VAPIDClaims{}, fmt.Errorf("k=%q, want the agent's key %q", params["k"], publicKey)
	}
	parts := strings.Split(params["t"], ".")
	if len(parts) != 3 {
		return VAPIDClaims{}, errors.New("t is not a JWS compact serialisation")
	}
	var head struct{ Alg, Typ string }
	if err := decodeSegment(parts[0], &head); err != nil || head.Alg != "ES256" {
		return VAPIDClaims{}, fmt.Errorf("JWT header %+v (%v), want alg ES256", head, err)
	}
	keyBytes, err := b64.DecodeString(publicKey)
	if err != nil {
		return VAPIDClaims{}, err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), keyBytes)
	if err != nil {
		return VAPIDClaims{}, err
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return VAPIDClaims{}, fmt.Errorf("signature of %d bytes (%v), want 64", len(sig), err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return VAPIDClaims{}, errors.New("JWT signature does not verify")
	}
	var claims VAPIDClaims
	if err := decodeSegment(parts[1], &claims); err != nil {
		return VAPIDClaims{}, err
	}
	return claims, nil
}

func decodeSegment(seg string, v any) error {
	b, err := b64.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
