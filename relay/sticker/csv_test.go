package sticker

import (
	"fmt"
	"strings"
	"testing"

	"casefleet/shared/machine"
)

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name, csv string
		want      []string // code|location|name of each sticker
	}{
		{"header", "code,location,name\nCT0700026,mall-3f,\"Mall 3F, east escalator\"\nCT0700046,station,Station\n",
			[]string{"CT0700026|mall-3f|Mall 3F, east escalator", "CT0700046|station|Station"}},
		{"no header", "CT0700026,mall-3f,East\nCT0700027,,\n",
			[]string{"CT0700026|mall-3f|East", "CT0700027||"}},
		{"columns in any order, some left out", "Name , CODE\nEast,CT0700026\n",
			[]string{"CT0700026||East"}},
		{"spreadsheet export: BOM, CRLF, spaces, comments, blank lines", "\ufeffcode,location,name\r\n# the mall\r\n CT0700026 , mall-3f , East \r\n\r\n",
			[]string{"CT0700026|mall-3f|East"}},
		{"quotes in a name", "CT0700026,mall-3f,\"The \"\"big\"\" one\"\n",
			[]string{"CT0700026|mall-3f|The \"big\" one"}},
		{"letters beyond ASCII", "CT0700026,zürich,Café Bahnhof\n", []string{"CT0700026|zürich|Café Bahnhof"}},
	}
	for _, tt := range tests {
		got, err := ReadCSV(strings.NewReader(tt.csv), relayURL)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var rows []string
		for _, s := range got {
			rows = append(rows, s.Machine+"|"+s.Location+"|"+s.Name)
		}
		if strings.Join(rows, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%s: read %q, want %q", tt.name, rows, tt.want)
		}
	}
}

func TestReadCSVSaysWhatIsWrong(t *testing.T) {
	tests := []struct {
		name, csv string
		want      []string // in the error, in order
	}{
		{"empty", "", []string{"lists no machines"}},
		{"only a header", "code,location,name\n", []string{"lists no machines"}},
		{"a column missing", "code,location,name\nCT0700026,mall-3f\n", []string{"line 2: 2 fields, want 3: code,location,name"}},
		{"a column too many", "CT0700026,mall-3f,East,extra\n", []string{"line 1: 4 fields, want 3"}},
		{"unknown column", "code,locaton,name\n", []string{"line 1: unknown column \"locaton\""}},
		{"column twice", "code,name,code\n", []string{"column code appears twice"}},
		{"no code column", "name,location\n", []string{"no code column"}},
		{"bad code", "code\nCT0700026\nct-0700026\n", []string{"line 3: invalid machine code"}},
		{"no code", "code,name\n,East\n", []string{"line 2: no machine code"}},
		{"a machine twice", "CT0700026,a,b\nCT0700027,a,b\nCT0700026,c,d\n", []string{"line 3: machine CT0700026 is already on line 1"}},
		{"control character", "CT0700026,mall\x1b[31m,East\n", []string{"line 1: location", "control"}},
		{"bidi override", "CT0700026,mall,\u202eEast\n", []string{"line 1: name", "invisible"}},
		{"broken quotes", "CT0700026,mall,\"East\nCT0700027,a,b\n", []string{"line 1", "quote"}},
		{"name too long", "CT0700026,mall," + strings.Repeat("n", MaxName+1) + "\n", []string{"line 1: name is 81 bytes long"}},
		{"several bad lines", "XX,a,b\nCT0700026,a\nYY,a,b\n", []string{"line 1", "line 2", "line 3"}},
		{"binary", "\x00\x01\x02\xff\xfe,\x00,\x00\n", []string{"line 1"}},
	}
	for _, tt := range tests {
		_, err := ReadCSV(strings.NewReader(tt.csv), relayURL)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		msg, at := err.Error(), 0
		for _, w := range tt.want {
			i := strings.Index(msg[at:], w)
			if i < 0 {
				t.Errorf("%s: error %q, want it to say %q", tt.name, msg, w)
				break
			}
			at += i
		}
	}
}

func TestReadCSVLimits(t *testing.T) {
	var b strings.Builder
	for i := range MaxStickers + 1 {
		fmt.Fprintf(&b, "CT07%05d,,\n", i)
	}
	if _, err := ReadCSV(strings.NewReader(b.String()), relayURL); err == nil || !strings.Contains(err.Error(), "more than 1000 machines") {
		t.Errorf("%d machines: %v", MaxStickers+1, err)
	}
	huge := strings.Repeat("#"+strings.Repeat("x", 1000)+"\n", MaxCSVBytes/1000+1)
	if _, err := ReadCSV(strings.NewReader(huge), relayURL); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("%d bytes: %v", len(huge), err)
	}
	b.Reset()
	for range 30 {
		b.WriteString("XX,a,b\n")
	}
	_, err := ReadCSV(strings.NewReader(b.String()), relayURL)
	if err == nil || strings.Count(err.Error(), "\n") != 10 || !strings.Contains(err.Error(), "stopped after ten") {
		t.Errorf("30 bad lines: %v", err)
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add("code,location,name\nCT0700026,mall-3f,\"Mall 3F, east\"\n")
	f.Add("CT0700026,,\n#x\n\"CT0700027\",\"a\"\"b\",c\n")
	f.Add("\ufeffName,Code\r\nx,CT0700026\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		stickers, err := ReadCSV(strings.NewReader(in), relayURL)
		if err != nil {
			return
		}
		for _, s := range stickers {
			if machine.ValidateCode(s.Machine) != nil || !strings.HasPrefix(s.Link, relayURL+"/editor?machine="+s.Machine) {
				t.Fatalf("accepted %+v", s)
			}
			if checkText("name", s.Name, MaxName) != nil || checkText("location", s.Location, 100) != nil {
				t.Fatalf("accepted text that cannot be printed: %+v", s)
			}
		}
	})
}
