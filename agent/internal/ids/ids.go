// Package ids makes and checks the agent's random identifiers (orders,
// sessions): 26 characters of base32, 128 bits, safe in URLs and file
// names.
package ids

import "crypto/rand"

// New returns a fresh random id.
func New() string { return rand.Text() }

// Valid reports whether s has the form New produces. Use it to reject
// hostile ids before they reach storage or file paths.
func Valid(s string) bool {
	if len(s) != 26 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}
