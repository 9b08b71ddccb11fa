package dashboard

import (
	"errors"
	"net/http"
)

// StoreCheck is the answer of GET /operator/api/store/check: the queue's
// consistency check (queue.Verify) run by the agent that holds the store,
// for `casefleet-agent doctor`, which cannot open the file while the agent
// runs (bbolt locks it).
type StoreCheck struct {
	// Problems are what Verify found, one a line; none when consistent.
	Problems []string `json:"problems"`
	// Error is set when the check itself could not run (a read failed).
	Error string `json:"error,omitempty"`
}

// CheckStore turns the result of queue.Verify into a StoreCheck.
func CheckStore(verify func() error) (c StoreCheck) {
	c.Problems = []string{}
	defer func() {
		// A damaged page can make bbolt panic rather than return an error.
		if p := recover(); p != nil {
			c.Error = "reading the store crashed: the file is damaged"
		}
	}()
	err := verify()
	if err == nil {
		return c
	}
	// Verify wraps the joined problems once: "verify queue: %w".
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		for _, p := range joined.Unwrap() {
			c.Problems = append(c.Problems, p.Error())
		}
		return c
	}
	c.Error = err.Error()
	return c
}

// storeCheck reads every order in one read transaction: it does not hold
// up the writer (bbolt readers see a snapshot), and the store is small
// (finished orders are pruned).
func (d *Dashboard) storeCheck(w http.ResponseWriter, r *http.Request) error {
	c := CheckStore(d.opt.Queue.Verify)
	if c.Error != "" || len(c.Problems) > 0 {
		d.log.Warn("store check found problems", "problems", len(c.Problems), "error", c.Error)
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}
