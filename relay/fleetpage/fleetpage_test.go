package fleetpage

import (
	"bytes"
	"encoding/csv"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"casefleet/shared/locale"
	"casefleet/shared/summary"
)

var t0 = time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)

func sum(status string, f func(*summary.Summary)) *summary.Summary {
	s := &summary.Summary{Code: "CT0700026", Name: "Mall 3F", Status: status, QueueCapacity: 20, Version: "1.4.0",
		Ink: summary.Ink{Cyan: "ok", Magenta: "ok", Yellow: "ok", Black: "ok"}, At: t0}
	if f != nil {
		f(s)
	}
	return s
}

// A machine's state and problems, as the page and its filters read them.
func TestStateAndProblems(t *testing.T) {
	for _, tc := range []struct {
		name     string
		m        Machine
		state    string
		problems []string
	}{
		{"no tunnel", Machine{Summary: sum("online", nil)}, StateKioskOffline, []string{ProblemOffline}},
		{"never heard", Machine{}, StateKioskOffline, []string{ProblemOffline}},
		{"tunnel, stale summary", Machine{Online: true, Summary: sum("online", nil)}, StateNoAnswer, []string{ProblemOffline}},
		{"ready", Machine{Online: true, Fresh: true, Summary: sum("online", nil)}, StateOnline, nil},
		{"printing, full", Machine{Online: true, Fresh: true, Summary: sum("printing", func(s *summary.Summary) { s.Full = true })}, StatePrinting, []string{ProblemFull}},
		{"printer away", Machine{Online: true, Fresh: true, Summary: sum("offline", nil)}, StatePrinterOffline, []string{ProblemOffline}},
		{"fault", Machine{Online: true, Fresh: true, Summary: sum("error", nil)}, StateError, []string{ProblemFailing}},
		{"ink low and failing", Machine{Online: true, Fresh: true, Summary: sum("online", func(s *summary.Summary) { s.InkLow = []string{"cyan"}; s.Failures = 3 })},
			StateOnline, []string{ProblemInkLow, ProblemFailing}},
	} {
		if got := tc.m.State(); got != tc.state {
			t.Errorf("%s: state %s, want %s", tc.name, got, tc.state)
		}
		if got := tc.m.Problems(); !slices.Equal(got, tc.problems) {
			t.Errorf("%s: problems %v, want %v", tc.name, got, tc.problems)
		}
	}
}

func TestFilter(t *testing.T) {
	ms := []Machine{
		{Code: "CT0700026", Location: "mall-3f", Online: true, Fresh: true, Summary: sum("online", nil)},
		{Code: "CT0700027", Location: "mall-3f"},
		{Code: "CT0700046", Location: "station", Online: true, Fresh: true, Summary: sum("online", func(s *summary.Summary) { s.Full = true })},
		{Code: "CT0700050"},
	}
	Sort(ms)
	codes := func(ms []Machine) string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Code)
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		f    Filter
		want string
	}{
		{Filter{}, "CT0700026 CT0700027 CT0700046 CT0700050"},
		{ParseFilter("mall-3f", ""), "CT0700026 CT0700027"},
		{ParseFilter("", "offline"), "CT0700027 CT0700050"},
		{ParseFilter("station", "full"), "CT0700046"},
		{ParseFilter("", "<script>"), "CT0700026 CT0700027 CT0700046 CT0700050"}, // not a problem: no filter
		{ParseFilter(strings.Repeat("x", MaxFilterLen+1), ""), "CT0700026 CT0700027 CT0700046 CT0700050"},
		{ParseFilter("nowhere", ""), ""},
	} {
		if got := codes(tc.f.Apply(ms)); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.f, got, tc.want)
		}
	}
	if got := Locations(ms); !slices.Equal(got, []string{"mall-3f", "station"}) {
		t.Errorf("locations %v", got)
	}
}

// The CSV export quotes what needs quoting and never lets a spreadsheet
// run a formula from a kiosk's name or a failure reason.
func TestCSVIsSafe(t *testing.T) {
	ms := []Machine{{Code: "CT0700026", Location: "=HYPERLINK(\"http://evil\")", Online: true, Fresh: true, UpSince: t0,
		Summary: sum("online", func(s *summary.Summary) {
			s.Name = "+cmd|' /C calc'!A0"
			s.FailureReasons = []summary.Reason{{Reason: "-2+3", Count: 1}, {Reason: "@SUM(1)", Count: 1}}
			s.Failures = 2
			s.LastError = "line one, \"two\"\nthree"
		})}, {Code: "CT0700027"}}
	var b bytes.Buffer
	if err := CSV(&b, ms); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("the export does not read back: %v\n%s", err, b.String())
	}
	if len(recs) != 3 || len(recs[1]) != len(csvHeader) || len(recs[2]) != len(csvHeader) {
		t.Fatalf("records: %q", recs)
	}
	for _, rec := range recs[1:] {
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q could run as a formula", cell)
			}
		}
	}
	row := map[string]string{}
	for i, h := range recs[0] {
		row[h] = recs[1][i]
	}
	if row["name"] != "'+cmd|' /C calc'!A0" || row["printer_last_error"] != "line one, \"two\"\nthree" || row["up_since"] != "2026-12-06T09:30:00Z" || row["state"] != "online" {
		t.Errorf("row %v", row)
	}
}

// Every language renders the page; Arabic right to left; text from kiosks
// is escaped.
func TestRenderEveryLanguage(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ms := []Machine{{Code: "CT0700026", Location: "mall-3f", Online: true, Fresh: true, UpSince: t0,
		Summary: sum("printing", func(s *summary.Summary) {
			s.Name = "<img src=x onerror=alert(1)>"
			s.Current = &summary.Order{ID: "X", Stage: "awaiting_payment", PickupCode: "0001"}
			s.InkLow = []string{"magenta"}
			s.Failures, s.FailureReasons = 1, []summary.Reason{{Reason: "<b>jam</b>", Count: 1}}
		})}, {Code: "CT0700027", DownSince: t0}}
	for _, l := range locale.Languages() {
		var b bytes.Buffer
		if err := p.Fleet(&b, View{Lang: l, URL: &url.URL{Path: "/fleet/"}, Machines: ms, CSRF: "tok"}); err != nil {
			t.Fatalf("%s: %v", l.Code, err)
		}
		html := b.String()
		if !strings.Contains(html, `dir="`+l.Dir()+`"`) || !strings.Contains(html, `lang="`+l.Code+`"`) {
			t.Errorf("%s: no lang/dir", l.Code)
		}
		if strings.Contains(html, "<img src=x") || strings.Contains(html, "<b>jam") {
			t.Errorf("%s: a kiosk's text is not escaped", l.Code)
		}
		if !strings.Contains(html, p.text(l, "stage.awaiting_payment")) || !strings.Contains(html, p.text(l, "state.kiosk_offline")) {
			t.Errorf("%s: states not in the page's language", l.Code)
		}
		if strings.Contains(html, "{") && strings.Contains(html, "}") && strings.Contains(html, "{n}") {
			t.Errorf("%s: a placeholder is left", l.Code)
		}
		var lb bytes.Buffer
		if err := p.Login(&lb, LoginView{Lang: l, URL: &url.URL{Path: "/fleet/login"}, Problem: "locked", RetryAfter: 90 * time.Second}); err != nil || !strings.Contains(lb.String(), "90") {
			t.Errorf("%s login: %v", l.Code, err)
		}
	}
	ar, _ := locale.Lookup("ar")
	var b bytes.Buffer
	p.Fleet(&b, View{Lang: ar, URL: &url.URL{Path: "/fleet/"}, Machines: ms})
	if !strings.Contains(b.String(), `dir="rtl"`) || !strings.Contains(b.String(), "أسطولك") {
		t.Error("the Arabic page is not right to left in Arabic")
	}
}
