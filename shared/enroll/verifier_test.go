package enroll

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerifierVerifyFor(t *testing.T) {
	pub, priv := newKey(t)
	revs, err := ParseRevocations(strings.NewReader("machine:CT0700046\njti:stolen\n"))
	if err != nil {
		t.Fatal(err)
	}
	v := &Verifier{PublicKey: pub, Revocations: revs, Now: func() time.Time { return now }}
	tok := func(c Claims) string {
		if c.IssuedAt == 0 {
			c.IssuedAt = now.Unix()
		}
		return issue(t, priv, c)
	}

	tests := []struct {
		name    string
		machine string
		token   string
		want    error
	}{
		{"valid", "CT0700026", tok(Claims{Machine: "CT0700026"}), nil},
		{"wrong machine", "CT0700026", tok(Claims{Machine: "CT0700027"}), ErrWrongMachine},
		{"revoked machine", "CT0700046", tok(Claims{Machine: "CT0700046"}), ErrRevoked},
		{"revoked jti", "CT0700026", tok(Claims{Machine: "CT0700026", ID: "stolen"}), ErrRevoked},
		{"expired", "CT0700026", tok(Claims{Machine: "CT0700026", IssuedAt: now.Add(-2 * time.Hour).Unix(), ExpiresAt: now.Unix()}), ErrExpired},
		{"garbage", "CT0700026", "cf1.garbage", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.VerifyFor(tt.machine, tt.token)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyFor = %v, want %v", err, tt.want)
			}
			if err == nil && c.Machine != tt.machine {
				t.Errorf("claims are for %q, want %q", c.Machine, tt.machine)
			}
		})
	}
}
