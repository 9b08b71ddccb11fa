package machine

import (
	"errors"
	"testing"
)

func TestValidateCode(t *testing.T) {
	tests := []struct {
		code string
		ok   bool
	}{
		{"CT0700026", true},
		{"CT0700046", true},
		{"AB1234", true},
		{"ABCD123456789012", true},
		{"", false},
		{"ct0700026", false},
		{"C0700026", false},
		{"ABCDE0700026", false},
		{"CT070", false},
		{"CT0700026X", false},
		{"CT07-00026", false},
		{"CT0700026/../x", false},
		{"CT1234567890123", false},
		{"CT\u0660\u0661\u0662\u0663", false}, // Arabic-Indic digits are not digits here
	}
	for _, tt := range tests {
		err := ValidateCode(tt.code)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateCode(%q) = %v, want ok=%v", tt.code, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidCode) {
			t.Errorf("ValidateCode(%q) error %v is not ErrInvalidCode", tt.code, err)
		}
	}
}

func FuzzValidateCode(f *testing.F) {
	for _, s := range []string{"CT0700026", "", "ct1", "AB\x001234"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		if ValidateCode(code) != nil {
			return
		}
		// Anything accepted is safe to put in a URL path and a topic.
		for _, r := range code {
			if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				t.Fatalf("accepted %q with %q", code, r)
			}
		}
	})
}
