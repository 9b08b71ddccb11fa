package release

import (
	"strconv"
	"strings"
)

// version is a release version as git describe prints it: v1.5.0, or
// v1.5.0-3-gabc1234 (three commits after v1.5.0), or v1.6.0-rc.1 (before
// v1.6.0); "+..." is build metadata and "-dirty" is ignored.
type version struct {
	nums    [3]int
	pre     string // a pre-release: before the plain version
	commits int    // commits after the tag
	ok      bool
}

func parseVersion(s string) version {
	s = strings.TrimPrefix(s, "v")
	s, _, _ = strings.Cut(s, "+")
	s = strings.TrimSuffix(s, "-dirty")
	core, suffix := s, ""
	if i := strings.IndexAny(s, "-~"); i >= 0 {
		core, suffix = s[:i], s[i+1:]
	}
	var v version
	parts := strings.Split(core, ".")
	if len(parts) > 3 {
		return version{}
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return version{}
		}
		v.nums[i] = n
	}
	if suffix != "" {
		if n, hash, ok := strings.Cut(suffix, "-g"); ok && hash != "" && isHex(hash) {
			if c, err := strconv.Atoi(n); err == nil && c >= 0 {
				v.commits = c
				v.ok = true
				return v
			}
		}
		v.pre = suffix
	}
	v.ok = true
	return v
}

func isHex(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// CompareVersions orders versions as git describe prints them, -1, 0 or
// 1: v1.6.0-rc.1 < v1.6.0 < v1.6.0-3-gabc1234 < v1.6.1. A version that
// does not parse (a build by hand says "dev") is older than every one
// that does.
func CompareVersions(a, b string) int {
	va, vb := parseVersion(a), parseVersion(b)
	switch {
	case !va.ok && !vb.ok:
		return strings.Compare(a, b)
	case !va.ok:
		return -1
	case !vb.ok:
		return 1
	}
	for i := range va.nums {
		if va.nums[i] != vb.nums[i] {
			return cmpInt(va.nums[i], vb.nums[i])
		}
	}
	switch {
	case va.pre != "" && vb.pre == "":
		return -1
	case va.pre == "" && vb.pre != "":
		return 1
	case va.pre != vb.pre:
		return strings.Compare(va.pre, vb.pre)
	}
	return cmpInt(va.commits, vb.commits)
}

// IsVersion reports whether s is a version a release may have: like
// git describe's, at most 64 bytes, letters, digits and .+~- only.
func IsVersion(s string) bool {
	return len(s) <= maxVersionLen && versionPattern.MatchString(s) && parseVersion(s).ok
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
