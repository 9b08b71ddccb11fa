package main

import (
	"regexp"
	"testing"
)

func TestPackageVersion(t *testing.T) {
	for _, tc := range []struct{ describe, want string }{
		{"v1.2.3", "1.2.3"},
		{"1.2.3", "1.2.3"},
		{"v1.2.3-dirty", "1.2.3+dirty"},
		{"v1.2.3-4-gabc1234", "1.2.3+4.gabc1234"},
		{"v1.2.3-4-gabc1234-dirty", "1.2.3+4.gabc1234.dirty"},
		{"v1.3.0-rc1", "1.3.0~rc1"},
		{"v1.3.0-rc.1-2-gabc1234", "1.3.0~rc.1+2.gabc1234"},
		{"v2", "2"},
		{"5df603d", "0.0.0+g5df603d"},
		{"1234567", "0.0.0+g1234567"}, // a commit that happens to be all digits
		{"5df603d-dirty", "0.0.0+g5df603d.dirty"},
		{"dev", "0.0.0+dev"},
	} {
		got, err := packageVersion(tc.describe)
		if err != nil || got != tc.want {
			t.Errorf("packageVersion(%q) = %q, %v; want %q", tc.describe, got, err, tc.want)
		}
	}
}

func TestPackageVersionRejectsWhatIsNotGitDescribe(t *testing.T) {
	for _, describe := range []string{
		"", "latest", "v1.2.3 ", "v1.2.3;rm -rf /", "v1.2.3-4-gXYZ", "1.2.3_beta", "v1..2", "-dirty",
	} {
		if got, err := packageVersion(describe); err == nil {
			t.Errorf("packageVersion(%q) = %q, want an error", describe, got)
		}
	}
}

// FuzzPackageVersion: whatever it is given, packageVersion either refuses
// it or returns a version dpkg and rpm accept: a leading digit, then only
// letters, digits and . + ~.
func FuzzPackageVersion(f *testing.F) {
	for _, s := range []string{"v1.2.3", "v1.2.3-4-gabc1234-dirty", "v1.3.0-rc1", "5df603d", "dev", "v1..2-"} {
		f.Add(s)
	}
	valid := regexp.MustCompile(`^[0-9][0-9A-Za-z.+~]*$`)
	f.Fuzz(func(t *testing.T, describe string) {
		v, err := packageVersion(describe)
		if err == nil && !valid.MatchString(v) {
			t.Fatalf("packageVersion(%q) = %q: not a valid package version", describe, v)
		}
	})
}
