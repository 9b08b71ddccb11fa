package enroll

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"casefleet/shared/machine"
)

// Revocations is a set of withdrawn tokens (by jti) and machines (every
// token for that code). The zero value and nil revoke nothing.
//
// The file format is one entry a line, "jti:<id>" or "machine:<CODE>";
// blank lines and anything after '#' are ignored.
type Revocations struct {
	ids      map[string]bool
	machines map[string]bool
}

// LoadRevocations reads a revocations file.
func LoadRevocations(path string) (*Revocations, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load revocations: %w", err)
	}
	defer f.Close()
	revs, err := ParseRevocations(f)
	if err != nil {
		return nil, fmt.Errorf("load revocations %s: %w", path, err)
	}
	return revs, nil
}

// ParseRevocations reads revocations in the file format from r.
func ParseRevocations(r io.Reader) (*Revocations, error) {
	revs := &Revocations{ids: map[string]bool{}, machines: map[string]bool{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		kind, value, ok := strings.Cut(line, ":")
		value = strings.TrimSpace(value)
		switch {
		case !ok || value == "":
			return nil, fmt.Errorf("line %d: %q: want jti:<id> or machine:<CODE>", n, line)
		case kind == "jti":
			revs.ids[value] = true
		case kind == "machine":
			if err := machine.ValidateCode(value); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			revs.machines[value] = true
		default:
			return nil, fmt.Errorf("line %d: unknown kind %q: want jti:<id> or machine:<CODE>", n, kind)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read revocations: %w", err)
	}
	return revs, nil
}

// Len is the number of entries.
func (r *Revocations) Len() int {
	if r == nil {
		return 0
	}
	return len(r.ids) + len(r.machines)
}

// Check returns an error wrapping ErrRevoked if the token or its machine is
// revoked.
func (r *Revocations) Check(c Claims) error {
	if r == nil {
		return nil
	}
	if r.machines[c.Machine] {
		return &tokenError{ErrRevoked, fmt.Sprintf("every token for %s is revoked", c.Machine)}
	}
	if r.ids[c.ID] {
		return &tokenError{ErrRevoked, fmt.Sprintf("token %s for %s is revoked", c.ID, c.Machine)}
	}
	return nil
}
