package sticker

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Limits of a fleet sheet's CSV file.
const (
	MaxCSVBytes = 1 << 20
	MaxStickers = 1000
	// maxErrors is how many bad lines one read reports before it stops.
	maxErrors = 10
)

// columns are the CSV's columns, in their order when there is no header.
var columns = []string{"code", "location", "name"}

// ReadCSV reads a fleet sheet's machines and makes their stickers for the
// relay at publicURL. The CSV has the columns code, location and name:
// with a header row naming them (in any order; location and name may be
// left out), or without one in that order. Lines starting with # are
// comments. Every row has as many fields as the header (leave a field
// empty rather than out). Errors name the line, and up to ten bad lines
// are reported at once.
func ReadCSV(r io.Reader, publicURL string) ([]Sticker, error) {
	rows, err := readRows(r)
	if err != nil {
		return nil, err
	}
	var (
		stickers []Sticker
		lineOf   = map[string]int{} // machine code -> its line, for duplicates
		errs     []error
	)
	for _, row := range rows {
		if len(errs) == maxErrors {
			errs = append(errs, errors.New("(stopped after ten bad lines)"))
			break
		}
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("line %d: %s", row.line, fmt.Sprintf(format, args...)))
		}
		switch first, dup := lineOf[row.code]; {
		case row.err != nil:
			fail("%v", row.err)
		case row.code == "":
			fail("no machine code")
		case dup:
			fail("machine %s is already on line %d", row.code, first)
		default:
			s, err := New(publicURL, row.code, row.location, row.name)
			if err != nil {
				fail("%v", err)
				continue
			}
			lineOf[row.code] = row.line
			stickers = append(stickers, s)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return stickers, nil
}

// row is one machine's line of the CSV, or what is wrong with it.
type row struct {
	line                 int
	code, location, name string
	err                  error
}

// readRows splits the CSV into rows, checking its size, its header and
// each row's number of fields; the fields themselves are checked by the
// caller.
func readRows(r io.Reader) ([]row, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxCSVBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read the sheet: %w", err)
	}
	if len(data) > MaxCSVBytes {
		return nil, fmt.Errorf("the sheet is larger than %d KiB; split it", MaxCSVBytes>>10)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // spreadsheets' byte order mark
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1 // checked here, with a clearer message

	var (
		cols []string // the column of each field
		rows []row
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// The reader cannot find its feet again after a quoting
				// error: report it after the rows before it.
				rows = append(rows, row{line: pe.StartLine, err: fmt.Errorf("%v (quote a field that holds commas or quotes, and double its quotes)", pe.Err)})
				return rows, nil
			}
			return nil, fmt.Errorf("read the sheet: %w", err)
		}
		line, _ := cr.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if cols == nil {
			if isHeader(rec) {
				if cols, err = headerColumns(rec); err != nil {
					return nil, fmt.Errorf("line %d: %w", line, err)
				}
				continue
			}
			cols = columns
		}
		if len(rows) == MaxStickers {
			return nil, fmt.Errorf("line %d: more than %d machines; split the sheet", line, MaxStickers)
		}
		rw := row{line: line}
		if len(rec) != len(cols) {
			rw.err = fmt.Errorf("%d fields, want %d: %s (leave a field empty rather than out)", len(rec), len(cols), strings.Join(cols, ","))
		}
		for i, c := range cols[:min(len(cols), len(rec))] {
			switch c {
			case "code":
				rw.code = rec[i]
			case "location":
				rw.location = rec[i]
			case "name":
				rw.name = rec[i]
			}
		}
		rows = append(rows, rw)
	}
	if len(rows) == 0 {
		return nil, errors.New("the sheet lists no machines: want lines of code,location,name")
	}
	return rows, nil
}

// isHeader reports whether rec names columns rather than a machine.
func isHeader(rec []string) bool {
	for _, f := range rec {
		if slices.Contains(columns, strings.ToLower(f)) {
			return true
		}
	}
	return false
}

// headerColumns checks a header row and returns its columns.
func headerColumns(rec []string) ([]string, error) {
	cols := make([]string, len(rec))
	for i, f := range rec {
		c := strings.ToLower(f)
		switch {
		case !slices.Contains(columns, c):
			return nil, fmt.Errorf("unknown column %.40q: the columns are code, location and name", f)
		case slices.Contains(cols[:i], c):
			return nil, fmt.Errorf("column %s appears twice", c)
		}
		cols[i] = c
	}
	if !slices.Contains(cols, "code") {
		return nil, errors.New("no code column: the header must name code (and may name location and name)")
	}
	return cols, nil
}
