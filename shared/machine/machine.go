// Package machine holds the rules for Chitu machine codes, the key by
// which the relay routes and the agent names its printer.
package machine

import (
	"errors"
	"fmt"
)

// MaxCodeLen bounds a code; real ones are 9 characters (CT0700026).
const MaxCodeLen = 32

// ErrInvalidCode is returned (wrapped) for a code that breaks the rules.
var ErrInvalidCode = errors.New("invalid machine code")

// ValidateCode checks a machine code: two to four upper-case letters
// followed by four to twelve digits, e.g. CT0700026.
func ValidateCode(code string) error {
	if code == "" {
		return fmt.Errorf("%w: empty", ErrInvalidCode)
	}
	if len(code) > MaxCodeLen {
		return fmt.Errorf("%w: %d characters, at most %d", ErrInvalidCode, len(code), MaxCodeLen)
	}
	letters := 0
	for letters < len(code) && code[letters] >= 'A' && code[letters] <= 'Z' {
		letters++
	}
	digits := len(code) - letters
	if letters < 2 || letters > 4 {
		return fmt.Errorf("%w: %q must start with 2 to 4 capital letters", ErrInvalidCode, code)
	}
	for i := letters; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return fmt.Errorf("%w: %q: only digits may follow the letters", ErrInvalidCode, code)
		}
	}
	if digits < 4 || digits > 12 {
		return fmt.Errorf("%w: %q must end with 4 to 12 digits", ErrInvalidCode, code)
	}
	return nil
}
