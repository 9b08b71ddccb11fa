package enroll

import (
	"crypto/ed25519"
	"strings"
	"testing"
)

// fuzzSeed is a fixed key so that the fuzzer's corpus stays meaningful
// between runs.
var fuzzSeed = []byte("casefleet-enroll-fuzz-seed-32byt")

// FuzzVerify holds Verify to two promises on any input: it never panics,
// and it accepts only tokens that were really issued with the key.
func FuzzVerify(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(fuzzSeed)
	pub := priv.Public().(ed25519.PublicKey)
	issued := map[string]bool{}
	for _, c := range []Claims{
		{Machine: "CT0700026", Location: "mall-3f", IssuedAt: now.Unix(), ExpiresAt: now.Unix() + 3600, ID: "a"},
		{Machine: "CT0700027", IssuedAt: now.Unix(), ID: "b"},
	} {
		tok := issue(f, priv, c)
		issued[tok] = true
		f.Add(tok)
		f.Add(tok[:len(tok)-1])
		f.Add(strings.Replace(tok, ".", "..", 1))
	}
	f.Add("")
	f.Add("cf1.")
	f.Add("cf1..")
	f.Add("cf1.e30.")

	f.Fuzz(func(t *testing.T, token string) {
		c, err := Verify(pub, token, now)
		if err != nil {
			if c != (Claims{}) {
				t.Fatalf("claims %+v returned with error %v", c, err)
			}
			return
		}
		if !issued[token] {
			t.Fatalf("Verify accepted %q, which was never issued", token)
		}
	})
}
