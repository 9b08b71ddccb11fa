package update

import (
	"regexp"
	"strconv"
	"strings"
)

// version is an agent version as git describe prints it: v1.5.0, or
// v1.5.0-3-gabc1234 (three commits after v1.5.0), v1.6.0-rc1 (before
// v1.6.0); "+..." is build metadata and "-dirty" is ignored.
type version struct {
	nums  [3]int
	pre   string // a pre-release: before the plain version
	after int    // commits after the tag
}

var describeSuffix = regexp.MustCompile(`^([0-9]+)-g[0-9a-f]+$`)

// parseVersion reads v. What does not parse (a build by hand says "dev")
// is 0.0.0, older than any release, as build.sh versions such packages.
func parseVersion(s string) version {
	var v version
	s = strings.TrimPrefix(s, "v")
	s, _, _ = strings.Cut(s, "+")
	s = strings.TrimSuffix(s, "-dirty")
	core, suffix := s, ""
	if i := strings.IndexAny(s, "-~"); i >= 0 {
		core, suffix = s[:i], s[i+1:]
	}
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
		if m := describeSuffix.FindStringSubmatch(suffix); m != nil {
			v.after, _ = strconv.Atoi(m[1])
		} else {
			v.pre = suffix
		}
	}
	return v
}

// compareVersions is -1, 0 or 1 as a is older than, the same as or newer
// than b.
func compareVersions(a, b string) int {
	va, vb := parseVersion(a), parseVersion(b)
	for i := range va.nums {
		if va.nums[i] != vb.nums[i] {
			return sign(va.nums[i] - vb.nums[i])
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
	return sign(va.after - vb.after)
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
