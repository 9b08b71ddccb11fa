package fleetpage

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// csvHeader names the CSV export's columns.
var csvHeader = []string{
	"code", "name", "location", "state", "problems", "relay", "up_since", "down_since",
	"queue_length", "queue_capacity", "full", "wait_seconds",
	"ink_cyan", "ink_magenta", "ink_yellow", "ink_black",
	"order_at_printer", "order_stage", "failures_24h", "failure_reasons",
	"agent_version", "printer_last_contact", "printer_last_error", "summary_at",
}

// CSV writes machines as CSV (RFC 4180, a header row, times in RFC 3339
// UTC). A cell that a spreadsheet would read as a formula (it starts with
// = + - @, a tab or a carriage return) gets a leading apostrophe: names
// and failure reasons come from kiosks, not from the owner.
func CSV(w io.Writer, ms []Machine) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("fleet csv: %w", err)
	}
	for _, m := range ms {
		rec := []string{m.Code, m.Name(), m.Location, m.State(), strings.Join(m.Problems(), " "), m.Relay,
			stamp(m.UpSince, m.Online), stamp(m.DownSince, !m.Online)}
		if s := m.Summary; s != nil {
			var order, stage string
			if s.Current != nil {
				order, stage = s.Current.ID, s.Current.Stage
			}
			var reasons []string
			for _, r := range s.FailureReasons {
				reasons = append(reasons, fmt.Sprintf("%s (%d)", r.Reason, r.Count))
			}
			var contact string
			if s.LastContact != nil {
				contact = s.LastContact.UTC().Format(time.RFC3339)
			}
			rec = append(rec, strconv.Itoa(s.QueueLength), strconv.Itoa(s.QueueCapacity), strconv.FormatBool(s.Full), strconv.Itoa(s.WaitSeconds),
				s.Ink.Cyan, s.Ink.Magenta, s.Ink.Yellow, s.Ink.Black,
				order, stage, strconv.Itoa(s.Failures), strings.Join(reasons, "; "),
				s.Version, contact, s.LastError, s.At.UTC().Format(time.RFC3339))
		} else {
			rec = append(rec, make([]string, len(csvHeader)-len(rec))...)
		}
		for i := range rec {
			rec[i] = SafeCell(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("fleet csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("fleet csv: %w", err)
	}
	return nil
}

// SafeCell keeps a spreadsheet from reading s as a formula.
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func stamp(t time.Time, show bool) string {
	if !show || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func queryEscape(s string) string { return url.QueryEscape(s) }
