package sticker

import (
	"bytes"
	"compress/zlib"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"casefleet/shared/qr/qrtest"
)

func sheetPDF(t testing.TB, stickers []Sticker) ([]*Page, []byte) {
	t.Helper()
	pages, err := Sheet(stickers, "cases.example.com")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := PDF(&b, pages); err != nil {
		t.Fatal(err)
	}
	return pages, b.Bytes()
}

// TestPDFStructure checks the file the way a reader finds its way in:
// startxref, the cross-reference table's offsets, each object there, and
// the content streams that inflate.
func TestPDFStructure(t *testing.T) {
	pages, pdf := sheetPDF(t, fleet(t, PerPage+1))
	if !bytes.HasPrefix(pdf, []byte("%PDF-1.4\n")) || !bytes.HasSuffix(pdf, []byte("%%EOF\n")) {
		t.Fatal("no PDF header or trailer")
	}
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(pdf)
	if m == nil {
		t.Fatal("no startxref")
	}
	xref, _ := strconv.Atoi(string(m[1]))
	if !bytes.HasPrefix(pdf[xref:], []byte("xref\n0 ")) {
		t.Fatalf("startxref %d does not point at the xref table", xref)
	}
	lines := strings.Split(string(pdf[xref:]), "\n")
	count, _ := strconv.Atoi(strings.Fields(lines[1])[1])
	if want := 5 + 2*len(pages) + 1; count != want {
		t.Fatalf("xref lists %d objects, want %d", count, want)
	}
	for id := 1; id < count; id++ {
		entry := lines[2+id] + "\n"
		if len(entry) != 20 {
			t.Errorf("xref entry %q is %d bytes, want 20", entry, len(entry))
		}
		off, _ := strconv.Atoi(entry[:10])
		if want := strconv.Itoa(id) + " 0 obj\n"; !bytes.HasPrefix(pdf[off:], []byte(want)) {
			t.Errorf("object %d: offset %d points at %.20q", id, off, pdf[off:])
		}
	}
	if n := bytes.Count(pdf, []byte("/Type /Page ")); n != len(pages) {
		t.Errorf("%d page objects, want %d", n, len(pages))
	}
	streams := regexp.MustCompile(`(?s)<< /Length (\d+) /Filter /FlateDecode >>\nstream\n`).FindAllSubmatchIndex(pdf, -1)
	if len(streams) != len(pages) {
		t.Fatalf("%d content streams, want %d", len(streams), len(pages))
	}
	for _, s := range streams {
		n, _ := strconv.Atoi(string(pdf[s[2]:s[3]]))
		body := pdf[s[1] : s[1]+n]
		if !bytes.HasPrefix(pdf[s[1]+n:], []byte("\nendstream")) {
			t.Errorf("stream /Length %d does not end at endstream", n)
		}
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(zr)
		if err != nil || !bytes.Contains(content, []byte(" re\n")) || !bytes.Contains(content, []byte(" Tj ET")) {
			t.Errorf("content stream: %v %.200s", err, content)
		}
	}
}

// TestPDFRendersAndScans renders the sheet with poppler, as a print
// shop's software would, and reads every code back from the picture.
func TestPDFRendersAndScans(t *testing.T) {
	stickers := fleet(t, PerPage+2)
	stickers[0] = mustSticker(t, "CT0700026", "mall-3f", "Mall 3F, east escalator")
	pages, pdf := sheetPDF(t, stickers)
	const dpi = 150
	images := renderPDF(t, pdf, dpi)
	if len(images) != len(pages) {
		t.Fatalf("poppler rendered %d pages, want %d", len(images), len(pages))
	}
	i := 0
	for p, img := range images {
		if b := img.Bounds(); b.Dx() < 1240 || b.Dx() > 1241 || b.Dy() != 1754 {
			t.Errorf("page %d is %v pixels at %d dpi, want A4's 1240x1754", p+1, b.Size(), dpi)
		}
		for _, c := range pages[p].codes {
			if got := qrtest.Decode(t, cropCode(img, c, dpi)); got != stickers[i].Link {
				t.Errorf("sticker %d reads %q, want %q", i, got, stickers[i].Link)
			}
			i++
		}
	}
	text := pdfText(t, pdf)
	for _, want := range []string{"Mall 3F, east escalator", "CT0700026 · mall-3f", "cases.example.com/editor?machine=CT0700026", "page 2 of 2"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q: %.400s", want, text)
		}
	}
}

func TestPDFTextInTheStandardFonts(t *testing.T) {
	s := mustSticker(t, "CT0700026", "zürich", "Café (Bahnhof) \\ 50% – 天")
	_, pdf := sheetPDF(t, []Sticker{s})
	text := pdfText(t, pdf)
	if !strings.Contains(text, "Café (Bahnhof) \\ 50% – ?") || !strings.Contains(text, "CT0700026 · zürich") {
		t.Errorf("text %q: want WinAnsi characters kept, others as ?", text)
	}
}

func TestPDFOfNoPages(t *testing.T) {
	if err := PDF(io.Discard, nil); err == nil {
		t.Error("a PDF of no pages: no error")
	}
}

// unescapePDFString reads a literal string as a PDF reader does.
func unescapePDFString(s string) ([]byte, bool) {
	if !strings.HasPrefix(s, "(") || !strings.HasSuffix(s, ")") {
		return nil, false
	}
	s = s[1 : len(s)-1]
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '(' || c == ')':
			return nil, false // unbalanced if left unescaped
		case c != '\\':
			out = append(out, c)
		case i+1 < len(s) && strings.IndexByte("()\\", s[i+1]) >= 0:
			out = append(out, s[i+1])
			i++
		case i+4 <= len(s):
			v, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
			if err != nil {
				return nil, false
			}
			out = append(out, byte(v))
			i += 3
		default:
			return nil, false
		}
	}
	return out, true
}

func FuzzPDFString(f *testing.F) {
	f.Add([]byte("Mall 3F (east) \\ escalator"))
	f.Add([]byte{0, 0x7f, 0x80, 0xff, '(', ')', '\\', '\n', '\r'})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := pdfString(b)
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] >= 0x7f {
				t.Fatalf("pdfString(%q) = %q holds a byte outside printable ASCII", b, s)
			}
		}
		got, ok := unescapePDFString(s)
		if !ok || !bytes.Equal(got, b) {
			t.Fatalf("pdfString(%q) = %q reads back as %q", b, s, got)
		}
	})
}
