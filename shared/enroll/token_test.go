package enroll

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"casefleet/shared/machine"
)

// now is the fixed clock of these tests.
var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func newKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func issue(t testing.TB, priv ed25519.PrivateKey, c Claims) string {
	t.Helper()
	tok, err := Issue(priv, c)
	if err != nil {
		t.Fatalf("Issue(%+v): %v", c, err)
	}
	return tok
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	pub, priv := newKey(t)
	want := Claims{
		Machine:   "CT0700026",
		Location:  "mall-3f",
		IssuedAt:  now.Unix(),
		ExpiresAt: now.Add(365 * 24 * time.Hour).Unix(),
	}
	tok := issue(t, priv, want)

	if !strings.HasPrefix(tok, TokenPrefix) || strings.Count(tok, ".") != 2 {
		t.Fatalf("token %q is not cf1.<claims>.<signature>", tok)
	}
	if strings.ContainsAny(tok, "+/=") {
		t.Errorf("token %q is not URL-safe", tok)
	}
	got, err := Verify(pub, tok, now)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.ID == "" {
		t.Error("Issue left the token id (jti) empty")
	}
	want.ID = got.ID
	if got != want {
		t.Errorf("claims = %+v, want %+v", got, want)
	}
}

func TestIssueFillsIDAndIssueTime(t *testing.T) {
	pub, priv := newKey(t)
	before := time.Now().Unix()
	a, _ := Verify(pub, issue(t, priv, Claims{Machine: "CT0700026"}), time.Now())
	b, _ := Verify(pub, issue(t, priv, Claims{Machine: "CT0700026"}), time.Now())
	if a.ID == "" || a.ID == b.ID {
		t.Errorf("token ids %q and %q: want distinct random ids", a.ID, b.ID)
	}
	if a.IssuedAt < before || a.IssuedAt > time.Now().Unix() {
		t.Errorf("iat = %d, want the current time", a.IssuedAt)
	}
	if a.ExpiresAt != 0 {
		t.Errorf("exp = %d, want 0 (no expiry) when none is given", a.ExpiresAt)
	}
}

func TestIssueRefusesBadClaims(t *testing.T) {
	_, priv := newKey(t)
	tests := map[string]Claims{
		"invalid machine code":     {Machine: "ct0700026"},
		"empty machine code":       {},
		"expiry before issue time": {Machine: "CT0700026", IssuedAt: now.Unix(), ExpiresAt: now.Add(-time.Hour).Unix()},
		"negative expiry":          {Machine: "CT0700026", ExpiresAt: -1},
		"location too long":        {Machine: "CT0700026", Location: strings.Repeat("x", MaxLocationLen+1)},
		"control characters":       {Machine: "CT0700026", Location: "mall\n3f"},
		"invalid UTF-8":            {Machine: "CT0700026", Location: "mall\xff"},
		"id too long":              {Machine: "CT0700026", ID: strings.Repeat("x", 65)},
	}
	for name, c := range tests {
		t.Run(name, func(t *testing.T) {
			if tok, err := Issue(priv, c); err == nil {
				t.Errorf("Issue(%+v) = %q, want an error", c, tok)
			}
		})
	}
	if _, err := Issue(priv, Claims{Machine: "x"}); !errors.Is(err, machine.ErrInvalidCode) {
		t.Errorf("Issue with a bad code: %v, want machine.ErrInvalidCode", err)
	}
	if _, err := Issue(nil, Claims{Machine: "CT0700026"}); err == nil {
		t.Error("Issue with a nil key: want an error, not a panic")
	}
}

func TestVerifyRejects(t *testing.T) {
	pub, priv := newKey(t)
	otherPub, otherPriv := newKey(t)
	valid := issue(t, priv, Claims{Machine: "CT0700026", Location: "mall-3f", IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()})
	signedPart, sig, _ := strings.Cut(strings.TrimPrefix(valid, TokenPrefix), ".")

	// resign builds a token with the given claims JSON, signed by priv.
	resign := func(body string) string {
		signed := TokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(body))
		return signed + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(signed)))
	}
	tamperedClaims := func() string {
		var c Claims
		body, _ := base64.RawURLEncoding.DecodeString(signedPart)
		json.Unmarshal(body, &c)
		c.Machine = "CT0700027"
		body, _ = json.Marshal(c)
		return TokenPrefix + base64.RawURLEncoding.EncodeToString(body) + "." + sig
	}()
	tamperedSig := func() string {
		b, _ := base64.RawURLEncoding.DecodeString(sig)
		b[10] ^= 0x01
		return TokenPrefix + signedPart + "." + base64.RawURLEncoding.EncodeToString(b)
	}()
	// The last character of the signature carries 4 unused bits; a lax
	// decoder would accept a second spelling of the same token.
	nonCanonical := func() string {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, valid[len(valid)-1])
		return valid[:len(valid)-1] + string(alphabet[last^1])
	}()

	tests := []struct {
		name    string
		pub     ed25519.PublicKey
		token   string
		now     time.Time
		want    error
		message string // a part of the error text a technician must see
	}{
		{"tampered claims", pub, tamperedClaims, now, ErrBadSignature, "not signed by this fleet key"},
		{"tampered signature", pub, tamperedSig, now, ErrBadSignature, ""},
		{"signed by another key", pub, issue(t, otherPriv, Claims{Machine: "CT0700026", IssuedAt: now.Unix()}), now, ErrBadSignature, ""},
		{"checked with another key", otherPub, valid, now, ErrBadSignature, ""},
		{"expired", pub, valid, now.Add(time.Hour), ErrExpired, "expired on 2026-06-01 13:00 UTC"},
		{"long expired", pub, valid, now.Add(1000 * time.Hour), ErrExpired, "CT0700026"},
		{"issued in the future", pub, valid, now.Add(-ClockSkew - time.Minute), ErrNotYetValid, "2026-06-01 12:00 UTC"},
		{"garbage", pub, "garbage", now, ErrMalformed, "cf1."},
		{"empty", pub, "", now, ErrMalformed, ""},
		{"wrong prefix", pub, "cf2." + strings.TrimPrefix(valid, TokenPrefix), now, ErrMalformed, "cf1."},
		{"no signature", pub, TokenPrefix + signedPart, now, ErrMalformed, "signature"},
		{"empty signature", pub, TokenPrefix + signedPart + ".", now, ErrMalformed, ""},
		{"short signature", pub, TokenPrefix + signedPart + "." + sig[:20], now, ErrMalformed, ""},
		{"non-canonical base64", pub, nonCanonical, now, ErrMalformed, ""},
		{"padded base64", pub, valid + "==", now, ErrMalformed, ""},
		{"extra part", pub, TokenPrefix + "x." + signedPart + "." + sig, now, ErrMalformed, ""},
		{"oversized", pub, valid + strings.Repeat("A", MaxTokenSize), now, ErrMalformed, "at most 2048"},
		{"signed but not JSON", pub, resign("not json"), now, ErrMalformed, ""},
		{"signed but bad code", pub, resign(`{"machine":"../etc","iat":1780000000,"exp":0,"jti":"x"}`), now, ErrMalformed, ""},
		{"signed but no jti", pub, resign(`{"machine":"CT0700026","iat":1780000000,"exp":0}`), now, ErrMalformed, ""},
		{"signed but no iat", pub, resign(`{"machine":"CT0700026","exp":0,"jti":"x"}`), now, ErrMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Verify(tt.pub, tt.token, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %+v, %v; want %v", c, err, tt.want)
			}
			if c != (Claims{}) {
				t.Errorf("Verify returned claims %+v with an error", c)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not say %q", err, tt.message)
			}
		})
	}
}

func TestVerifyTimeBoundaries(t *testing.T) {
	pub, priv := newKey(t)
	tok := issue(t, priv, Claims{Machine: "CT0700026", IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()})
	for _, at := range []time.Time{now.Add(-ClockSkew), now, now.Add(time.Hour - time.Second)} {
		if _, err := Verify(pub, tok, at); err != nil {
			t.Errorf("Verify at %v: %v, want valid", at, err)
		}
	}
	forever := issue(t, priv, Claims{Machine: "CT0700026", IssuedAt: now.Unix()})
	if _, err := Verify(pub, forever, now.AddDate(50, 0, 0)); err != nil {
		t.Errorf("a token without expiry: %v, want valid forever", err)
	}
}

func TestVerifyBadPublicKey(t *testing.T) {
	_, priv := newKey(t)
	tok := issue(t, priv, Claims{Machine: "CT0700026"})
	if _, err := Verify(nil, tok, now); err == nil {
		t.Error("Verify with a nil key: want an error, not a panic or success")
	}
}

func TestCheckMachine(t *testing.T) {
	c := Claims{Machine: "CT0700027"}
	if err := c.CheckMachine("CT0700027"); err != nil {
		t.Errorf("same machine: %v", err)
	}
	err := c.CheckMachine("CT0700026")
	if !errors.Is(err, ErrWrongMachine) {
		t.Fatalf("other machine: %v, want ErrWrongMachine", err)
	}
	if want := "token is for CT0700027, not CT0700026"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestInspectReadsClaimsWithoutAKey(t *testing.T) {
	_, priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Issue(priv, Claims{Machine: "CT0700026", Location: "mall-3f"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Inspect(tok)
	if err != nil || c.Machine != "CT0700026" || c.Location != "mall-3f" {
		t.Fatalf("Inspect = %+v, %v", c, err)
	}
	for _, bad := range []string{"", "cf1.", "cf1.e30.AAAA", "xx" + tok} {
		if _, err := Inspect(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Inspect(%.20q) = %v, want ErrMalformed", bad, err)
		}
	}
}
