package printfile

import (
	"errors"
	"image"
)

// Template is a product's print_img reduced to what rendering needs: the
// print file's exact size and where ink may go. Build it once per product
// and reuse it; it is safe for concurrent use.
type Template struct {
	w, h  int
	alpha []uint8 // row-major, w*h; 0 marks a cut-out
}

// NewTemplate reads a print_img. Its transparent pixels (outside the case
// outline, the camera hole) become cut-outs; a template without an alpha
// channel is printable everywhere. Templates are held to DefaultLimits'
// size so that a bad catalogue entry cannot exhaust memory.
func NewTemplate(img image.Image) (*Template, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil, errors.New("printfile: empty template")
	}
	if err := DefaultLimits().checkSize("template", w, h); err != nil {
		return nil, err
	}
	t := &Template{w: w, h: h, alpha: make([]uint8, w*h)}
	switch m := img.(type) {
	case *image.NRGBA: // what image/png returns for most templates
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range w {
				t.alpha[y*w+x] = row[4*x+3]
			}
		}
	case image.RGBA64Image:
		for y := range h {
			for x := range w {
				t.alpha[y*w+x] = uint8(m.RGBA64At(b.Min.X+x, b.Min.Y+y).A >> 8)
			}
		}
	default:
		for y := range h {
			for x := range w {
				_, _, _, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				t.alpha[y*w+x] = uint8(a >> 8)
			}
		}
	}
	return t, nil
}

// Size is the print file's size in pixels.
func (t *Template) Size() (w, h int) { return t.w, t.h }
