package enroll

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRevocations(t *testing.T) {
	revs, err := ParseRevocations(strings.NewReader(`
# withdrawn after the kiosk PC was stolen
machine:CT0700099
jti:abc123   # leaked in a screenshot

  jti: def456
`))
	if err != nil {
		t.Fatal(err)
	}
	if revs.Len() != 3 {
		t.Errorf("Len = %d, want 3", revs.Len())
	}
	tests := []struct {
		claims  Claims
		revoked bool
		message string
	}{
		{Claims{Machine: "CT0700026", ID: "zzz"}, false, ""},
		{Claims{Machine: "CT0700026", ID: "abc123"}, true, "token abc123 for CT0700026 is revoked"},
		{Claims{Machine: "CT0700026", ID: "def456"}, true, "revoked"},
		{Claims{Machine: "CT0700099", ID: "zzz"}, true, "every token for CT0700099 is revoked"},
	}
	for _, tt := range tests {
		err := revs.Check(tt.claims)
		if tt.revoked != errors.Is(err, ErrRevoked) {
			t.Errorf("Check(%+v) = %v, want revoked=%v", tt.claims, err, tt.revoked)
		}
		if err != nil && err.Error() != tt.message && !strings.Contains(err.Error(), tt.message) {
			t.Errorf("Check(%+v) = %q, want it to say %q", tt.claims, err, tt.message)
		}
	}
}

func TestNoRevocations(t *testing.T) {
	var none *Revocations
	if err := none.Check(Claims{Machine: "CT0700026", ID: "x"}); err != nil {
		t.Errorf("nil Revocations: %v", err)
	}
	if err := (&Revocations{}).Check(Claims{Machine: "CT0700026", ID: "x"}); err != nil {
		t.Errorf("zero Revocations: %v", err)
	}
}

func TestParseRevocationsErrors(t *testing.T) {
	tests := map[string]string{
		"unknown kind":     "token:abc",
		"no kind":          "abc",
		"empty value":      "jti:",
		"bad machine code": "machine:ct07",
		"overlong line":    "jti:" + strings.Repeat("x", 70_000),
	}
	for name, input := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseRevocations(strings.NewReader("# ok\n" + input + "\n")); err == nil {
				t.Errorf("ParseRevocations(%.40q): want an error", input)
			} else if name != "overlong line" && !strings.Contains(err.Error(), "line 2") {
				t.Errorf("error %q does not name line 2", err)
			}
		})
	}
}

func TestLoadRevocations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.txt")
	if err := os.WriteFile(path, []byte("machine:CT0700026\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	revs, err := LoadRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := revs.Check(Claims{Machine: "CT0700026"}); !errors.Is(err, ErrRevoked) {
		t.Errorf("Check: %v, want ErrRevoked", err)
	}
	if _, err := LoadRevocations(path + ".missing"); err == nil {
		t.Error("LoadRevocations of a missing file: want an error")
	}
}
