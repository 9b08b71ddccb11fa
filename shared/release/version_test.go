package release

import "testing"

func TestCompareVersions(t *testing.T) {
	ordered := []string{"v0.9.0", "v1.5.0-rc.1", "v1.5.0", "v1.5.0-3-gabc1234", "v1.5.0-12-gdef5678", "v1.5.1", "v1.6.0", "v10.0.0"}
	for i, a := range ordered {
		for j, b := range ordered {
			if got, want := CompareVersions(a, b), cmpInt(i, j); got != want {
				t.Errorf("CompareVersions(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"dev", "v0.0.1", -1},
		{"1.5.0", "v1.5.0", 0},
		{"v1.5.0-dirty", "v1.5.0", 0},
		{"v1.5.0+build.7", "v1.5.0", 0},
		{"0.0.0+g8434bc2", "v0.0.1", -1},
		{"v1.5", "v1.5.0", 0},
		{"v1.10.0", "v1.9.3", 1},
		{"v1.6.0-rc1", "v1.5.9", 1},
		{"abc1234", "v1.0.0", -1},
		{"v2", "v1.9.9", 1},
	} {
		if got := CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if IsVersion("latest") || IsVersion("") || !IsVersion("v1.6.0") {
		t.Error("IsVersion")
	}
}

func FuzzCompareVersions(f *testing.F) {
	f.Add("v1.5.0", "v1.5.0-3-gabc1234")
	f.Add("v2.0.0-rc.1", "dev")
	f.Fuzz(func(t *testing.T, a, b string) {
		if CompareVersions(a, b) != -CompareVersions(b, a) {
			t.Fatalf("CompareVersions(%q, %q) is not antisymmetric", a, b)
		}
	})
}
