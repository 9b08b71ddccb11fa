// Package ink is the printer's ink as the agent's core sees it: one level
// word per colour. The device link (agent/chitu) fills it from the
// printer's answers; the queue's screens (customer API, dashboard,
// metrics, the relay's fleet summary) read it without knowing the device
// link.
package ink

// Level words.
const (
	OK      = "ok"
	Low     = "low"
	Unknown = "unknown"
)

// Levels is the ink of each colour: OK, Low or Unknown.
type Levels struct {
	Cyan    string `json:"cyan"`
	Magenta string `json:"magenta"`
	Yellow  string `json:"yellow"`
	Black   string `json:"black"`
}

// AllUnknown is what is known before the printer has said anything.
func AllUnknown() Levels {
	return Levels{Cyan: Unknown, Magenta: Unknown, Yellow: Unknown, Black: Unknown}
}

// LowColours names the colours that are low, in the order C, M, Y, K.
func (l Levels) LowColours() []string {
	var out []string
	for _, c := range []struct{ name, level string }{
		{"cyan", l.Cyan}, {"magenta", l.Magenta}, {"yellow", l.Yellow}, {"black", l.Black},
	} {
		if c.level == Low {
			out = append(out, c.name)
		}
	}
	return out
}
