package sticker

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"casefleet/shared/qr"
)

// Page is one drawn page: a single sticker's label, or one A4 page of a
// fleet sheet. Everything is in points (1/72 inch), from the top left.
type Page struct {
	Width, Height float64
	codes         []placedCode
	texts         []text
	guides        []rect // dashed cut lines
}

type rect struct{ x, y, w, h float64 }

// placedCode is a QR code drawn at x, y with modules of side module.
type placedCode struct {
	code   *qr.Code
	x, y   float64
	module float64
	link   string // what it encodes
}

// darkRuns calls fn for each horizontal run of dark modules of the code,
// row y, columns [x0, x1): vector formats draw one rectangle per run.
func (c placedCode) darkRuns(fn func(y, x0, x1 int)) {
	size := c.code.Size()
	for y := range size {
		for x := 0; x < size; {
			if !c.code.Dark(x, y) {
				x++
				continue
			}
			start := x
			for x < size && c.code.Dark(x, y) {
				x++
			}
			fn(y, start, x)
		}
	}
}

// text is one line, centred on x (or starting at x when left is set), with
// its baseline at y, no wider than maxWidth.
type text struct {
	s        string
	x, y     float64
	size     float64
	bold     bool
	grey     bool
	left     bool
	maxWidth float64
}

// ptPerMM converts millimetres to points.
const ptPerMM = 72 / 25.4

func mm(v float64) float64 { return v * ptPerMM }

// A4 in points.
const a4W, a4H = 210 * ptPerMM, 297 * ptPerMM

// style is the sizes of one kind of sticker.
type style struct {
	width          float64 // of the sticker
	pad            float64 // beside and below the text
	qrSide         float64 // the code, quiet zone included
	name, sub, url float64 // font sizes
}

var (
	// labelStyle fits 62 mm continuous label tape (Brother QL printers).
	labelStyle = style{width: mm(62), pad: mm(3), qrSide: mm(56), name: 12, sub: 9, url: 7}
	// sheetStyle is a cell of the A4 sheet: three across, four down.
	sheetStyle = style{width: mm(62), pad: mm(3), qrSide: mm(46), name: 10, sub: 8, url: 6.5}
)

// Sheet layout.
const (
	sheetCols = 3
	sheetRows = 4
	// PerPage is how many stickers an A4 sheet holds.
	PerPage = sheetCols * sheetRows
)

const (
	sheetMargin = 12 * ptPerMM // printers cannot print to the edge
	sheetHeader = 7 * ptPerMM
)

// lineHeight is the distance between baselines at size.
func lineHeight(size float64) float64 { return size * 1.3 }

// drawSticker draws s in a cell of width st.width whose top left is x, y,
// and returns the height it used.
func (p *Page) drawSticker(s Sticker, st style, x, y float64) float64 {
	inner := st.width - 2*st.pad
	cx := x + st.width/2
	cy := y // the code's quiet zone is margin enough, above and below it
	module := st.qrSide / float64(s.code.Size())
	p.codes = append(p.codes, placedCode{code: s.code, x: cx - st.qrSide/2, y: cy, module: module, link: s.Link})
	cy += st.qrSide

	headline, sub := s.Name, s.Machine
	if headline == "" {
		headline, sub = s.Machine, ""
	}
	if s.Location != "" {
		if sub != "" {
			sub += " · "
		}
		sub += s.Location
	}
	cy += lineHeight(st.name) * 0.8
	line, size := fit(headline, st.name, st.name*0.75, inner, true)
	p.texts = append(p.texts, text{s: line, x: cx, y: cy, size: size, bold: true, maxWidth: inner})
	if sub != "" {
		cy += lineHeight(st.sub)
		line, size := fit(sub, st.sub, st.sub*0.8, inner, false)
		p.texts = append(p.texts, text{s: line, x: cx, y: cy, size: size, grey: true, maxWidth: inner})
	}
	cy += lineHeight(st.url) * 0.3
	for _, line := range wrapLink(shortLink(s.Link), st.url, inner, 3) {
		cy += lineHeight(st.url)
		p.texts = append(p.texts, text{s: line, x: cx, y: cy, size: st.url, grey: true, maxWidth: inner})
	}
	return cy + lineHeight(st.url)*0.4 + st.pad - y
}

// typicalHeight is the height of a sticker with a name, a location and a
// link on two lines. Every sticker of a sheet starts where such a one is
// centred in its cell, so that the codes of a row line up.
func (st style) typicalHeight() float64 {
	return st.qrSide + lineHeight(st.name)*0.8 + lineHeight(st.sub) + lineHeight(st.url)*(0.3+2+0.4) + st.pad
}

// Label is s alone, sized for a 62 mm label roll.
func (s Sticker) Label() *Page {
	p := &Page{Width: labelStyle.width}
	p.Height = p.drawSticker(s, labelStyle, 0, 0)
	return p
}

// Sheet lays stickers out on A4 pages, PerPage to a page, with cut lines
// around each and a header naming the relay and the page. title is
// printed in the header (the relay's public URL, say).
func Sheet(stickers []Sticker, title string) ([]*Page, error) {
	if len(stickers) == 0 {
		return nil, errNoStickers
	}
	n := (len(stickers) + PerPage - 1) / PerPage
	cellW := (a4W - 2*sheetMargin) / sheetCols
	cellH := (a4H - 2*sheetMargin - sheetHeader) / sheetRows
	st := sheetStyle
	st.width = cellW
	var pages []*Page
	for i := range n {
		p := &Page{Width: a4W, Height: a4H}
		header := "casefleet QR stickers"
		if title != "" {
			header += " · " + title
		}
		header += fmt.Sprintf(" · page %d of %d · cut along the dashed lines", i+1, n)
		line, size := fit(header, 7, 5, a4W-2*sheetMargin, false)
		p.texts = append(p.texts, text{s: line, x: sheetMargin, y: sheetMargin + 7, size: size, grey: true, left: true, maxWidth: a4W - 2*sheetMargin})
		for j, s := range stickers[i*PerPage : min(len(stickers), (i+1)*PerPage)] {
			x := sheetMargin + float64(j%sheetCols)*cellW
			y := sheetMargin + sheetHeader + float64(j/sheetCols)*cellH
			p.guides = append(p.guides, rect{x, y, cellW, cellH})
			p.drawSticker(s, st, x, y+max(0, (cellH-st.typicalHeight())/2))
		}
		pages = append(pages, p)
	}
	return pages, nil
}

// fit shrinks s from size down to minSize to fit width, and past that cuts
// it short with an ellipsis.
func fit(s string, size, minSize, width float64, bold bool) (string, float64) {
	w := textWidth(s, size, bold)
	if w <= width {
		return s, size
	}
	if smaller := size * width / w; smaller >= minSize {
		return s, smaller
	}
	return ellipsize(s, minSize, width, bold), minSize
}

// ellipsize cuts s short, with "…", to fit width.
func ellipsize(s string, size, width float64, bold bool) string {
	if textWidth(s, size, bold) <= width {
		return s
	}
	for s != "" {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
		if textWidth(s+"…", size, bold) <= width {
			return strings.TrimRight(s, " ") + "…"
		}
	}
	return "…"
}

// wrapLink breaks a link into at most maxLines lines that fit width,
// before a '?' or '&' where it can, anywhere where it must.
func wrapLink(link string, size, width float64, maxLines int) []string {
	var parts []string
	for rest := link; rest != ""; {
		i := strings.IndexAny(rest[1:], "?&")
		if i < 0 {
			parts = append(parts, rest)
			break
		}
		parts = append(parts, rest[:i+1])
		rest = rest[i+1:]
	}
	var lines []string
	cur := ""
	for _, part := range parts {
		if textWidth(cur+part, size, false) <= width {
			cur += part
			continue
		}
		if cur != "" {
			lines = append(lines, cur)
			cur = ""
		}
		// A part too long for a line by itself is broken anywhere.
		for textWidth(part, size, false) > width {
			n := 0
			for i := range part {
				if i > 0 && textWidth(part[:i], size, false) > width {
					break
				}
				n = i
			}
			if n == 0 {
				_, n = utf8.DecodeRuneInString(part)
			}
			lines = append(lines, part[:n])
			part = part[n:]
		}
		cur = part
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	if len(lines) > maxLines {
		lines = lines[:maxLines]
		lines[maxLines-1] = ellipsize(lines[maxLines-1]+"…", size, width, false)
	}
	return lines
}
