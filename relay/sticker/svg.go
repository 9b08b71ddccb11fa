package sticker

import (
	"bytes"
	"encoding/xml"
	"fmt"
)

// SVG draws the page as a standalone SVG document, sized in millimetres
// so that it prints at its real size. The QR modules are one path per
// code; the text asks for Helvetica or Arial.
func (p *Page) SVG() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%smm" height="%smm" viewBox="0 0 %s %s">
<rect width="100%%" height="100%%" fill="#fff"/>
`, num(p.Width*25.4/72), num(p.Height*25.4/72), num(p.Width), num(p.Height))
	for _, g := range p.guides {
		fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#b8b8b8" stroke-width="0.5" stroke-dasharray="3 3"/>`+"\n",
			num(g.x), num(g.y), num(g.w), num(g.h))
	}
	for _, c := range p.codes {
		// In the code's own units (one per module), moved and scaled into
		// place: short numbers, and no seams between modules.
		fmt.Fprintf(&b, `<path transform="translate(%s %s) scale(%s)" shape-rendering="crispEdges" fill="#000" d="`,
			num(c.x), num(c.y), fmt.Sprintf("%.5g", c.module))
		c.darkRuns(func(y, x0, x1 int) {
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x0, y, x1-x0, x1-x0)
		})
		b.WriteString("\"/>\n")
	}
	for _, t := range p.texts {
		anchor := "middle"
		if t.left {
			anchor = "start"
		}
		weight, fill := "normal", "#000"
		if t.bold {
			weight = "bold"
		}
		if t.grey {
			fill = "#404040"
		}
		fmt.Fprintf(&b, `<text x="%s" y="%s" font-family="Helvetica, Arial, sans-serif" font-size="%s" font-weight="%s" fill="%s" text-anchor="%s">`,
			num(t.x), num(t.y), num(t.size), weight, fill, anchor)
		xml.EscapeText(&b, []byte(t.s))
		b.WriteString("</text>\n")
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
