package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Text is a field the platform sends sometimes as a JSON string and
// sometimes as a number (ids, prices, stock). It keeps the plain text.
type Text string

// UnmarshalJSON accepts a string, a number or null.
func (t *Text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*t = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = Text(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string or number, got %.20s", b)
		}
		*t = Text(n)
	}
	return nil
}

// String returns the plain text.
func (t Text) String() string { return string(t) }
