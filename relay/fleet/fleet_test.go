package fleet

import (
	"path/filepath"
	"testing"
	"time"

	"casefleet/shared/enroll"
)

func TestKeygenThenIssue(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fleet")
	priv, pub, err := Keygen(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Keygen(dir); err == nil {
		t.Error("a second Keygen overwrote the fleet key")
	}
	now := time.Unix(1_800_000_000, 0)
	tok, id, err := Issue(IssueRequest{KeyFile: priv, Machine: "CT0700026", Location: "mall-3f", TTL: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	key, err := enroll.LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	c, err := enroll.Verify(key, tok, now)
	if err != nil || c.Machine != "CT0700026" || c.Location != "mall-3f" || c.ExpiresAt != now.Add(time.Hour).Unix() || c.ID != id {
		t.Fatalf("claims %+v, %v", c, err)
	}
	if _, err := enroll.Verify(key, tok, now.Add(2*time.Hour)); err == nil {
		t.Error("the token outlived its ttl")
	}
	never, _, _ := Issue(IssueRequest{KeyFile: priv, Machine: "CT0700026"})
	if c, err := enroll.Verify(key, never, time.Now().Add(10*365*24*time.Hour)); err != nil || c.ExpiresAt != 0 {
		t.Errorf("a token without ttl: %+v, %v", c, err)
	}
	for _, bad := range []IssueRequest{
		{KeyFile: priv, Machine: "ct1"},
		{KeyFile: pub, Machine: "CT0700026"},
		{KeyFile: priv, Machine: "CT0700026", TTL: -time.Second},
	} {
		if _, _, err := Issue(bad); err == nil {
			t.Errorf("Issue(%+v) succeeded", bad)
		}
	}
}
