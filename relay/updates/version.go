package updates

import (
	"strconv"
	"strings"
)

// version is a release version as git describe prints it: v1.5.0, or
// v1.5.0-3-gabc1234 (three commits after v1.5.0), or v2.0.0-rc.1.
type version struct {
	nums    [3]int
	pre     string // -rc.1: before the release itself
	commits int    // -3-gabc1234: after it
	ok      bool
}

func parseVersion(s string) version {
	s = strings.TrimPrefix(s, "v")
	core, rest, _ := strings.Cut(s, "-")
	core, _, _ = strings.Cut(core, "+")
	var v version
	parts := strings.Split(core, ".")
	if len(parts) == 0 || len(parts) > 3 {
		return version{}
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return version{}
		}
		v.nums[i] = n
	}
	if rest != "" {
		// git describe: N-gHASH after a tag; anything else is a pre-release.
		if n, hash, ok := strings.Cut(rest, "-g"); ok && hash != "" {
			if c, err := strconv.Atoi(n); err == nil {
				v.commits = c
				v.ok = true
				return v
			}
		}
		v.pre = rest
	}
	v.ok = true
	return v
}

// CompareVersions orders versions a and b as git describe prints them
// (v1.5.0 < v1.5.0-3-gabc1234 < v1.6.0-rc.1 < v1.6.0): -1, 0 or 1.
func CompareVersions(a, b string) int { return compareVersions(a, b) }

// compareVersions orders a and b: -1, 0 or 1. Versions that do not parse
// compare equal only to themselves and below every version that parses.
func compareVersions(a, b string) int {
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

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
