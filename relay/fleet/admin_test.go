package fleet

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefleet/shared/enroll"
)

func TestAdminTokenIsItsOwnKind(t *testing.T) {
	priv, pub, err := Keygen(filepath.Join(t.TempDir(), "fleet"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := enroll.LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	admin, id, err := IssueAdmin(AdminRequest{KeyFile: priv, Name: "alice", TTL: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	c, err := VerifyAdmin(key, nil, admin, now)
	if err != nil || c.Name != "alice" || c.ID != id || c.ExpiresAt != now.Add(time.Hour).Unix() {
		t.Fatalf("admin claims %+v, %v", c, err)
	}

	kiosk, _, err := Issue(IssueRequest{KeyFile: priv, Machine: "CT0700026", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyAdmin(key, nil, kiosk, now); !errors.Is(err, ErrNotAdminToken) {
		t.Errorf("a kiosk token passed as an admin token: %v", err)
	}
	if _, err := enroll.Verify(key, admin, now); !errors.Is(err, enroll.ErrMalformed) {
		t.Errorf("an admin token passed as a kiosk token: %v", err)
	}
	// The kiosk prefix on the admin token's body and signature: the
	// signature covers the prefix, so it no longer verifies either way.
	swapped := enroll.TokenPrefix + strings.TrimPrefix(admin, AdminTokenPrefix)
	if _, err := enroll.Verify(key, swapped, now); err == nil {
		t.Error("an admin token with the kiosk prefix verified as a kiosk token")
	}
	if _, err := VerifyAdmin(key, nil, AdminTokenPrefix+strings.TrimPrefix(kiosk, enroll.TokenPrefix), now); err == nil {
		t.Error("a kiosk token with the admin prefix verified as an admin token")
	}

	if _, err := VerifyAdmin(key, nil, admin, now.Add(2*time.Hour)); !errors.Is(err, enroll.ErrExpired) {
		t.Errorf("after its ttl: %v", err)
	}
	if _, err := VerifyAdmin(key, nil, admin, now.Add(-time.Hour)); !errors.Is(err, enroll.ErrNotYetValid) {
		t.Errorf("before its issue time: %v", err)
	}
	revs, err := enroll.ParseRevocations(strings.NewReader("jti:" + id + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyAdmin(key, revs, admin, now); !errors.Is(err, enroll.ErrRevoked) {
		t.Errorf("revoked by jti: %v", err)
	}

	other, _, _ := Keygen(filepath.Join(t.TempDir(), "other"))
	foreign, _, _ := IssueAdmin(AdminRequest{KeyFile: other, Name: "mallory", Now: now})
	for name, tok := range map[string]string{
		"another fleet's": foreign, "empty": "", "prefix only": AdminTokenPrefix, "no signature": AdminTokenPrefix + "e30",
		"tampered": tamper(admin), "oversized": AdminTokenPrefix + strings.Repeat("A", enroll.MaxTokenSize),
	} {
		if _, err := VerifyAdmin(key, nil, tok, now); !errors.Is(err, ErrNotAdminToken) {
			t.Errorf("%s token: %v", name, err)
		}
	}
	for _, bad := range []AdminRequest{
		{KeyFile: priv}, {KeyFile: priv, Name: "a\nb"}, {KeyFile: priv, Name: strings.Repeat("x", 65)},
		{KeyFile: pub, Name: "alice"}, {KeyFile: priv, Name: "alice", TTL: -time.Second},
	} {
		if _, _, err := IssueAdmin(bad); err == nil {
			t.Errorf("IssueAdmin(%+v) succeeded", bad)
		}
	}
}

func FuzzVerifyAdmin(f *testing.F) {
	priv, pub, err := Keygen(filepath.Join(f.TempDir(), "fleet"))
	if err != nil {
		f.Fatal(err)
	}
	key, _ := enroll.LoadPublicKey(pub)
	tok, _, _ := IssueAdmin(AdminRequest{KeyFile: priv, Name: "alice"})
	f.Add(tok)
	f.Add(AdminTokenPrefix + "e30.AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := VerifyAdmin(key, nil, s, time.Now())
		if err == nil && (c.Kind != "admin" || c.ID == "") {
			t.Fatalf("accepted %q as %+v", s, c)
		}
	})
}

// tamper changes one character of the token's signature, always (a fixed
// replacement was the same as the original one time in 4,096).
func tamper(token string) string {
	i := len(token) - 5 // inside the signature, clear of base64's last, partial character
	c := byte('A')
	if token[i] == c {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}
