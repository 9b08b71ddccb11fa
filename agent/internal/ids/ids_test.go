package ids

import "testing"

func TestNewIsValidAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := New()
		if !Valid(id) || seen[id] {
			t.Fatalf("New() = %q: valid %v, repeated %v", id, Valid(id), seen[id])
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "abcdefghijklmnopqrstuvwxyz", "AAAAAAAAAAAAAAAAAAAAAAAAA1", "AAAAAAAAAAAAAAAAAAAAAAAAAAA", "../../../../../../../../..."} {
		if Valid(bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
}
