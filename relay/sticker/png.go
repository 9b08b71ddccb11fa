package sticker

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// PNG resolution limits, in dots per inch. 300 prints sharp; 600 is
// what label printers do at most, and an A4 page at 600 dpi is 35
// megapixels.
const (
	MinDPI = 72
	MaxDPI = 600
)

var (
	regularFont = mustParseFont(goregular.TTF)
	boldFont    = mustParseFont(gobold.TTF)
)

func mustParseFont(ttf []byte) *opentype.Font {
	f, err := opentype.Parse(ttf)
	if err != nil {
		panic(err) // the Go fonts are part of the build
	}
	return f
}

// PNG draws the page at dpi dots per inch, in greys.
func (p *Page) PNG(dpi int) ([]byte, error) {
	if dpi < MinDPI || dpi > MaxDPI {
		return nil, fmt.Errorf("resolution %d dpi outside %d to %d", dpi, MinDPI, MaxDPI)
	}
	img, err := p.raster(float64(dpi))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return b.Bytes(), nil
}

func (p *Page) raster(dpi float64) (*image.Gray, error) {
	scale := dpi / 72
	px := func(v float64) int { return int(math.Round(v * scale)) }
	img := image.NewGray(image.Rect(0, 0, px(p.Width), px(p.Height)))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)

	for _, g := range p.guides {
		dashedFrame(img, px(g.x), px(g.y), px(g.x+g.w), px(g.y+g.h), max(1, px(3)), color.Gray{Y: 0xb8})
	}
	for _, c := range p.codes {
		size := c.code.Size()
		// Module edges are rounded, not module sizes: neighbours share
		// their edge, so no seams and no overlaps.
		edge := func(origin float64, i int) int { return px(origin + float64(i)*c.module) }
		for y := range size {
			for x := range size {
				if c.code.Dark(x, y) {
					r := image.Rect(edge(c.x, x), edge(c.y, y), edge(c.x, x+1), edge(c.y, y+1))
					draw.Draw(img, r, image.Black, image.Point{}, draw.Src)
				}
			}
		}
	}
	faces := map[[2]float64]font.Face{} // by size and boldness
	defer func() {
		for _, f := range faces {
			f.Close()
		}
	}()
	face := func(size float64, bold bool) (font.Face, error) {
		key := [2]float64{size, 0}
		f := regularFont
		if bold {
			key[1], f = 1, boldFont
		}
		if face, ok := faces[key]; ok {
			return face, nil
		}
		face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: dpi, Hinting: font.HintingFull})
		if err != nil {
			return nil, fmt.Errorf("font: %w", err)
		}
		faces[key] = face
		return face, nil
	}
	for _, t := range p.texts {
		f, err := face(t.size, t.bold)
		if err != nil {
			return nil, err
		}
		// The Go fonts run a little wider than Helvetica, by which the
		// text was fitted: shrink what would overflow.
		width := fixedToFloat(font.MeasureString(f, t.s))
		if limit := t.maxWidth * scale; limit > 0 && width > limit {
			if f, err = face(t.size*limit/width, t.bold); err != nil {
				return nil, err
			}
			width = fixedToFloat(font.MeasureString(f, t.s))
		}
		x := t.x * scale
		if !t.left {
			x -= width / 2
		}
		ink := image.Black
		if t.grey {
			ink = image.NewUniform(color.Gray{Y: 0x40})
		}
		d := font.Drawer{Dst: img, Src: ink, Face: f, Dot: fixed.Point26_6{X: floatToFixed(x), Y: floatToFixed(t.y * scale)}}
		d.DrawString(t.s)
	}
	return img, nil
}

func fixedToFloat(v fixed.Int26_6) float64 { return float64(v) / 64 }
func floatToFixed(v float64) fixed.Int26_6 { return fixed.Int26_6(math.Round(v * 64)) }

// dashedFrame draws a one-pixel dashed rectangle.
func dashedFrame(img *image.Gray, x0, y0, x1, y1, dash int, c color.Gray) {
	on := func(i int) bool { return (i/dash)%2 == 0 }
	for x := x0; x < x1; x++ {
		if on(x - x0) {
			img.SetGray(x, y0, c)
			img.SetGray(x, y1-1, c)
		}
	}
	for y := y0; y < y1; y++ {
		if on(y - y0) {
			img.SetGray(x0, y, c)
			img.SetGray(x1-1, y, c)
		}
	}
}
