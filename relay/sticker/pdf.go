package sticker

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"strconv"
)

// PDF writes pages as one PDF document. It is a small writer of its own:
// one page object and one content stream per page, the QR modules as
// filled rectangles (vector: sharp at any printer's resolution), the text
// in the standard fonts Helvetica and Helvetica-Bold in the WinAnsi
// encoding (nothing embedded; characters outside it print as '?').
func PDF(w io.Writer, pages []*Page) error {
	if len(pages) == 0 {
		return errNoStickers
	}
	pw := &pdfWriter{w: bufio.NewWriter(w)}
	pw.header()
	// Objects 1 to 5, then a page and its contents for each page.
	const catalog, pageTree, regular, bold, info = 1, 2, 3, 4, 5
	pageObj := func(i int) int { return 6 + 2*i }

	pw.object(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pageTree))
	kids := new(bytes.Buffer)
	for i := range pages {
		fmt.Fprintf(kids, "%d 0 R ", pageObj(i))
	}
	pw.object(pageTree, fmt.Sprintf("<< /Type /Pages /Kids [ %s] /Count %d >>", kids, len(pages)))
	pw.object(regular, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	pw.object(bold, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
	pw.object(info, "<< /Title (casefleet QR stickers) /Producer (casefleet-relay) >>")
	for i, p := range pages {
		content := p.pdfContent()
		pw.object(pageObj(i), fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] "+
			"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> /Contents %d 0 R >>",
			pageTree, num(p.Width), num(p.Height), regular, bold, pageObj(i)+1))
		pw.stream(pageObj(i)+1, content)
	}
	pw.trailer(catalog, info)
	if pw.err != nil {
		return fmt.Errorf("write pdf: %w", pw.err)
	}
	if err := pw.w.Flush(); err != nil {
		return fmt.Errorf("write pdf: %w", err)
	}
	return nil
}

// pdfWriter writes objects and remembers their offsets for the
// cross-reference table.
type pdfWriter struct {
	w       *bufio.Writer
	n       int64   // bytes written
	offsets []int64 // by object number - 1
	err     error
}

func (pw *pdfWriter) write(s string) {
	if pw.err != nil {
		return
	}
	n, err := pw.w.WriteString(s)
	pw.n += int64(n)
	pw.err = err
}

func (pw *pdfWriter) header() {
	// The binary comment tells transfer programs the file is not text.
	pw.write("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
}

func (pw *pdfWriter) begin(id int) {
	for len(pw.offsets) < id {
		pw.offsets = append(pw.offsets, 0)
	}
	pw.offsets[id-1] = pw.n
	pw.write(strconv.Itoa(id) + " 0 obj\n")
}

func (pw *pdfWriter) object(id int, body string) {
	pw.begin(id)
	pw.write(body + "\nendobj\n")
}

func (pw *pdfWriter) stream(id int, data []byte) {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(data) // to memory: cannot fail
	zw.Close()
	pw.begin(id)
	pw.write(fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n", z.Len()))
	pw.write(z.String())
	pw.write("\nendstream\nendobj\n")
}

func (pw *pdfWriter) trailer(root, info int) {
	xref := pw.n
	pw.write(fmt.Sprintf("xref\n0 %d\n0000000000 65535 f \n", len(pw.offsets)+1))
	for _, off := range pw.offsets {
		pw.write(fmt.Sprintf("%010d 00000 n \n", off)) // 20 bytes, as the format wants
	}
	pw.write(fmt.Sprintf("trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(pw.offsets)+1, root, info, xref))
}

// pdfContent is the page's content stream. PDF measures from the bottom
// left; the page's items from the top left.
func (p *Page) pdfContent() []byte {
	var b bytes.Buffer
	flip := func(y, h float64) float64 { return p.Height - y - h }
	if len(p.guides) > 0 {
		b.WriteString("q 0.72 G 0.5 w [3 3] 0 d\n")
		for _, g := range p.guides {
			fmt.Fprintf(&b, "%s %s %s %s re S\n", num(g.x), num(flip(g.y, g.h)), num(g.w), num(g.h))
		}
		b.WriteString("Q\n")
	}
	b.WriteString("0 g\n")
	for _, c := range p.codes {
		c.darkRuns(func(y, x0, x1 int) {
			fmt.Fprintf(&b, "%s %s %s %s re\n",
				num(c.x+float64(x0)*c.module), num(flip(c.y+float64(y)*c.module, c.module)),
				num(float64(x1-x0)*c.module), num(c.module))
		})
		b.WriteString("f\n")
	}
	for _, t := range p.texts {
		font := "/F1"
		if t.bold {
			font = "/F2"
		}
		grey := "0"
		if t.grey {
			grey = "0.25"
		}
		x := t.x
		if !t.left {
			x -= textWidth(t.s, t.size, t.bold) / 2
		}
		enc, _ := encodeWinAnsi(t.s)
		fmt.Fprintf(&b, "BT %s g %s %s Tf %s %s Td %s Tj ET\n", grey, font, num(t.size), num(x), num(p.Height-t.y), pdfString(enc))
	}
	return b.Bytes()
}

// pdfString is a PDF literal string of b: parentheses and backslashes
// escaped, and every byte outside printable ASCII as an octal escape.
func pdfString(b []byte) string {
	var s bytes.Buffer
	s.WriteByte('(')
	for _, c := range b {
		switch {
		case c == '(' || c == ')' || c == '\\':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&s, "\\%03o", c)
		default:
			s.WriteByte(c)
		}
	}
	s.WriteByte(')')
	return s.String()
}

// num formats a coordinate: two decimals, no trailing zeros.
func num(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	if i := len(s) - 1; s[i] == '0' {
		s = s[:i]
		if s[len(s)-1] == '0' {
			s = s[:len(s)-2]
		}
	}
	if s == "-0" {
		return "0"
	}
	return s
}
