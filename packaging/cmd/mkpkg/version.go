package main

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	// describeTag is `git describe` output from a tagged tree: the tag
	// (v1.2.3, or a pre-release v1.3.0-rc1), then the commits since it and
	// the commit (-4-gabc1234).
	describeTag = regexp.MustCompile(`^v?([0-9]+(?:\.[0-9]+)*)(?:-([0-9A-Za-z.]+))?(?:-([0-9]+)-g([0-9a-f]+))?$`)
	// describeCommit is `git describe --always` output before the first tag.
	describeCommit = regexp.MustCompile(`^[0-9a-f]{4,40}$`)
)

// packageVersion turns a version as `git describe --tags --always --dirty`
// prints it into one that dpkg and rpm both accept and order as people
// expect:
//
//	v1.2.3              1.2.3
//	v1.2.3-4-gabc1234   1.2.3+4.gabc1234   4 commits later: after 1.2.3
//	v1.3.0-rc1          1.3.0~rc1          a pre-release: before 1.3.0
//	abc1234             0.0.0+gabc1234     no tag yet
//	...-dirty           ...+dirty or ....dirty
//	dev                 0.0.0+dev          the Makefile's fallback outside git
func packageVersion(describe string) (string, error) {
	if describe == "dev" {
		return "0.0.0+dev", nil
	}
	commit, dirty := strings.CutSuffix(describe, "-dirty")
	var v, local string
	// A bare commit can be all digits (1234567): without a v or a dot it
	// is that, not a tag.
	bareCommit := !strings.HasPrefix(commit, "v") && !strings.Contains(commit, ".") && describeCommit.MatchString(commit)
	if m := describeTag.FindStringSubmatch(commit); m != nil && !bareCommit {
		v = m[1]
		if m[2] != "" {
			v += "~" + m[2]
		}
		if m[3] != "" {
			local = m[3] + ".g" + m[4]
		}
	} else if describeCommit.MatchString(commit) {
		v, local = "0.0.0", "g"+commit
	} else {
		return "", fmt.Errorf("version %q is not git describe output like v1.2.3, v1.2.3-4-gabc1234 or abc1234", describe)
	}
	if dirty {
		local = strings.TrimPrefix(local+".dirty", ".")
	}
	if local != "" {
		v += "+" + local
	}
	return v, nil
}
