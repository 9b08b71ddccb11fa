package sticker

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"casefleet/shared/qr/qrtest"
)

func TestNewRefusesWhatCannotBePrinted(t *testing.T) {
	tests := []struct{ name, base, code, location, label, want string }{
		{"bad code", relayURL, "ct0700026", "", "", "invalid machine code"},
		{"code with a query", relayURL, "CT0700026&x=1", "", "", "invalid machine code"},
		{"relay URL not http", "ftp://cases.example.com", "CT0700026", "", "", "http"},
		{"relay URL with a query", relayURL + "/?x=1", "CT0700026", "", "", "query"},
		{"line break in the name", relayURL, "CT0700026", "", "Mall\nescalator", "control"},
		{"bidi override in the name", relayURL, "CT0700026", "", "Mall \u202egnp.exe", "invisible"},
		{"NUL in the location", relayURL, "CT0700026", "mall\x00", "", "control"},
		{"not UTF-8", relayURL, "CT0700026", "", "Caf\xe9", "UTF-8"},
		{"long name", relayURL, "CT0700026", "", strings.Repeat("x", MaxName+1), "at most"},
		{"long location", relayURL, "CT0700026", strings.Repeat("x", 101), "", "at most"},
	}
	for _, tt := range tests {
		_, err := New(tt.base, tt.code, tt.location, tt.label)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
}

func TestLabelPNGDecodesBackToTheLink(t *testing.T) {
	s := mustSticker(t, "CT0700026", "mall-3f", "Mall 3F, east escalator")
	if s.Link != "https://cases.example.com/editor?machine=CT0700026&location=mall-3f" {
		t.Fatalf("link = %q, want the editor link in the sticker form", s.Link)
	}
	for _, dpi := range []int{MinDPI, 150, 300} {
		b, err := s.Label().PNG(dpi)
		if err != nil {
			t.Fatal(err)
		}
		if got := qrtest.Decode(t, decodePNG(t, b)); got != s.Link {
			t.Errorf("at %d dpi the code reads %q, want %q", dpi, got, s.Link)
		}
	}
	for _, dpi := range []int{0, MinDPI - 1, MaxDPI + 1} {
		if _, err := s.Label().PNG(dpi); err == nil {
			t.Errorf("PNG at %d dpi: no error", dpi)
		}
	}
}

func TestLabelIsSizedForA62mmRoll(t *testing.T) {
	p := mustSticker(t, "CT0700026", "mall-3f", "Mall 3F, east escalator").Label()
	if w := p.Width * 25.4 / 72; w < 61.9 || w > 62.1 {
		t.Errorf("label is %.1f mm wide, want 62", w)
	}
	if h := p.Height * 25.4 / 72; h < 62 || h > 100 {
		t.Errorf("label is %.1f mm tall", h)
	}
}

// svgTexts checks that b is well-formed XML with an <svg> root and
// returns the contents of its <text> elements.
func svgTexts(t *testing.T, b []byte) []string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var texts []string
	root, inText := "", false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%.500s", err, b)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = e.Name.Local
				if e.Name.Space != "http://www.w3.org/2000/svg" {
					t.Errorf("root namespace %q", e.Name.Space)
				}
			}
			if e.Name.Local == "text" {
				inText = true
				texts = append(texts, "")
			}
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if inText {
				texts[len(texts)-1] += string(e)
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return texts
}

func TestSVGIsWellFormedAndSaysWhichMachine(t *testing.T) {
	hostile := `<i>&amp;"'Bob's]]>`
	s := mustSticker(t, "CT0700026", "mall-3f", hostile)
	texts := svgTexts(t, s.Label().SVG())
	want := []string{hostile, "CT0700026 · mall-3f", "cases.example.com/editor?machine=CT0700026", "&location=mall-3f"}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("texts %q, want %q", texts, want)
	}
}

func TestNamelessStickerLeadsWithTheCode(t *testing.T) {
	texts := svgTexts(t, mustSticker(t, "CT0700026", "", "").Label().SVG())
	if strings.Join(texts, "|") != "CT0700026|cases.example.com/editor?machine=CT0700026" {
		t.Errorf("texts %q", texts)
	}
}

func TestSheetLayout(t *testing.T) {
	stickers := fleet(t, PerPage+1)
	pages, err := Sheet(stickers, "cases.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 2 || len(pages[0].codes) != PerPage || len(pages[1].codes) != 1 {
		t.Fatalf("%d stickers on %d pages", len(stickers), len(pages))
	}
	i := 0
	for _, p := range pages {
		if p.Width != a4W || p.Height != a4H {
			t.Errorf("page is %vx%v pt, want A4", p.Width, p.Height)
		}
		for j, c := range p.codes {
			if c.link != stickers[i].Link {
				t.Errorf("sticker %d: code for %q, want %q", i, c.link, stickers[i].Link)
			}
			// Each code lies inside its cell, within the printable area.
			g, side := p.guides[j], float64(c.code.Size())*c.module
			if c.x < g.x || c.y < g.y || c.x+side > g.x+g.w || c.y+side > g.y+g.h {
				t.Errorf("sticker %d: code at %v,%v (side %v) outside its cell %+v", i, c.x, c.y, side, g)
			}
			if g.x < sheetMargin-0.01 || g.y < sheetMargin || g.x+g.w > a4W-sheetMargin+0.01 || g.y+g.h > a4H-sheetMargin+0.01 {
				t.Errorf("cell %+v outside the printable area", g)
			}
			// A code is at least 4 cm wide, for phones at arm's length.
			if side < mm(40) {
				t.Errorf("code is %.1f mm wide", side*25.4/72)
			}
			i++
		}
		for _, tx := range p.texts {
			if w := textWidth(tx.s, tx.size, tx.bold); w > tx.maxWidth+0.01 {
				t.Errorf("text %q is %v pt wide, its room %v", tx.s, w, tx.maxWidth)
			}
		}
	}
	if _, err := Sheet(nil, ""); err == nil {
		t.Error("a sheet of no stickers: no error")
	}
}

func TestSheetPNGAndSVGCarryEveryCode(t *testing.T) {
	stickers := fleet(t, PerPage)
	pages, err := Sheet(stickers, "cases.example.com")
	if err != nil {
		t.Fatal(err)
	}
	const dpi = 150
	b, err := pages[0].PNG(dpi)
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, b)
	for i, c := range pages[0].codes {
		if got := qrtest.Decode(t, cropCode(img, c, dpi)); got != stickers[i].Link {
			t.Errorf("sticker %d reads %q, want %q", i, got, stickers[i].Link)
		}
	}
	texts := strings.Join(svgTexts(t, pages[0].SVG()), "|")
	for _, s := range stickers {
		if !strings.Contains(texts, s.Name) || !strings.Contains(texts, s.Machine+" · "+s.Location) {
			t.Errorf("the SVG sheet does not name %s: %s", s.Machine, texts)
		}
	}
}

func TestTextIsFittedToItsRoom(t *testing.T) {
	width := mm(50)
	if s, size := fit("Mall 3F", 10, 8, width, true); s != "Mall 3F" || size != 10 {
		t.Errorf("short text changed: %q at %v", s, size)
	}
	long := "Mall 3F, east escalator beside the food court"
	s, size := fit(long, 10, 8, width, true)
	if size < 8 || textWidth(s, size, true) > width {
		t.Errorf("fit = %q at %v: %v pt wide, room %v", s, size, textWidth(s, size, true), width)
	}
	if s, _ := fit(strings.Repeat("W", 100), 10, 8, width, true); !strings.HasSuffix(s, "…") {
		t.Errorf("overlong text not cut short: %q", s)
	}

	lines := wrapLink("cases.example.com/editor?machine=CT0700026&location=mall-3f", 6.5, mm(56), 3)
	if strings.Join(lines, "|") != "cases.example.com/editor?machine=CT0700026|&location=mall-3f" {
		t.Errorf("wrapLink = %q", lines)
	}
	lines = wrapLink("relay.example.com/"+strings.Repeat("k", 300)+"/editor?machine=CT0700026", 6.5, mm(56), 3)
	if len(lines) != 3 || !strings.HasSuffix(lines[2], "…") {
		t.Errorf("overlong link = %q", lines)
	}
	for _, l := range lines {
		if textWidth(l, 6.5, false) > mm(56) {
			t.Errorf("line %q too wide", l)
		}
	}
}

func TestPDFShowsText(t *testing.T) {
	if !mustSticker(t, "CT0700026", "Zürich", "Café – Bahnhof €").PDFShowsText() {
		t.Error("Latin-1 and WinAnsi characters reported as not shown")
	}
	if mustSticker(t, "CT0700026", "", "天河城").PDFShowsText() {
		t.Error("CJK characters reported as shown by Helvetica")
	}
}

func BenchmarkSheetPDF(b *testing.B) {
	pages, err := Sheet(fleet(b, PerPage), "cases.example.com")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := PDF(io.Discard, pages); err != nil {
			b.Fatal(err)
		}
	}
}
