// Package qr draws the QR code a kiosk carries: the link that opens the
// customer editor for that machine. It knows the link's exact form (the
// product's contract) and renders the code as PNG or SVG.
//
// It imports nothing from the agent, so the relay (stickers, fleet sheets)
// can use it once it moves to shared/.
package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"strconv"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"casefleet/shared/machine"
)

// MaxContent bounds what a code may carry. Editor links are far shorter; a
// longer text would make a dense code that phone cameras misread.
const MaxContent = 1024

// MaxLocation bounds the location a link names.
const MaxLocation = 100

// MaxScale bounds the pixels per module of a PNG.
const MaxScale = 32

// ErrTooLong is returned for content over MaxContent bytes.
var ErrTooLong = errors.New("qr: content too long")

// EditorURL is the link on a kiosk's QR code:
//
//	{base}/editor?machine=CODE[&location=L]
//
// in exactly this form (machine first), which printed stickers rely on.
// base is the relay's public URL (http or https, no query or fragment);
// a trailing slash is dropped.
func EditorURL(base, machineCode, location string) (string, error) {
	u, err := url.Parse(base)
	switch {
	case err != nil:
		return "", fmt.Errorf("editor link: base URL %.80q: %w", base, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("editor link: base URL %.80q must start with http:// or https://", base)
	case u.Host == "" || u.User != nil:
		return "", fmt.Errorf("editor link: base URL %.80q must name a host (and no user)", base)
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(base, "?#"):
		return "", fmt.Errorf("editor link: base URL %.80q must have no query or fragment", base)
	}
	if err := machine.ValidateCode(machineCode); err != nil {
		return "", fmt.Errorf("editor link: %w", err)
	}
	if len(location) > MaxLocation {
		return "", fmt.Errorf("editor link: location longer than %d bytes", MaxLocation)
	}
	link := strings.TrimRight(u.String(), "/") + "/editor?machine=" + url.QueryEscape(machineCode)
	if location != "" {
		link += "&location=" + url.QueryEscape(location)
	}
	if len(link) > MaxContent {
		return "", fmt.Errorf("editor link: %w", ErrTooLong)
	}
	return link, nil
}

// Code is an encoded QR code: a square of dark and light modules with the
// quiet zone (four light modules) around it.
type Code struct {
	modules [][]bool // [y][x], true = dark
}

// Encode encodes content with medium error correction (15% of the code may
// be scratched or dirty), a good balance for stickers on a kiosk.
func Encode(content string) (*Code, error) {
	if len(content) > MaxContent {
		return nil, ErrTooLong
	}
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("qr: encode: %w", err)
	}
	return &Code{modules: q.Bitmap()}, nil
}

// Size is the number of modules on each side, quiet zone included.
func (c *Code) Size() int { return len(c.modules) }

// Dark reports whether the module at column x, row y is dark.
func (c *Code) Dark(x, y int) bool {
	if y < 0 || y >= len(c.modules) || x < 0 || x >= len(c.modules[y]) {
		return false
	}
	return c.modules[y][x]
}

// PNG draws the code with scale pixels per module (1 to MaxScale), black
// on white, with no smoothing: every module is a sharp square.
func (c *Code) PNG(scale int) ([]byte, error) {
	if scale < 1 || scale > MaxScale {
		return nil, fmt.Errorf("qr: scale %d outside 1..%d", scale, MaxScale)
	}
	n := c.Size() * scale
	img := image.NewPaletted(image.Rect(0, 0, n, n), color.Palette{color.White, color.Black})
	for y := range n {
		row := c.modules[y/scale]
		for x := range n {
			if row[x/scale] {
				img.Pix[img.PixOffset(x, y)] = 1
			}
		}
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&b, img); err != nil {
		return nil, fmt.Errorf("qr: png: %w", err)
	}
	return b.Bytes(), nil
}

// SVG draws the code as a scalable image: one module is one user unit, so
// it prints sharp at any size. Each run of dark modules in a row is one
// rectangle of the single path.
func (c *Code) SVG() []byte {
	n := strconv.Itoa(c.Size())
	var b bytes.Buffer
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ` + n + ` ` + n + `" shape-rendering="crispEdges">`)
	b.WriteString(`<rect width="` + n + `" height="` + n + `" fill="#fff"/><path fill="#000" d="`)
	for y, row := range c.modules {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", start, y, x-start, x-start)
		}
	}
	b.WriteString(`"/></svg>`)
	return b.Bytes()
}
