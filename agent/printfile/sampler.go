package printfile

import (
	"image"
	"image/color"
	"math"
)

// sampler reads a photo bilinearly at (fx, fy) in pixel-index coordinates
// (pixel (i, j)'s centre is at (i, j)), blending the four nearest pixels.
// Indices past the edge are clamped, so the photo's border does not fade.
// It returns premultiplied 16-bit RGBA.
type sampler interface {
	bilinear(fx, fy float64) (r, g, b, a uint32)
}

// samplerFor picks the fastest way to read img's pixels in place, without
// converting the whole image.
func samplerFor(img image.Image) sampler {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.YCbCr: // every decoded colour JPEG, and lossy WebP
		return ycbcrSampler{m, b.Dx(), b.Dy()}
	case *image.NRGBA: // most PNGs, lossless WebP
		return pixelSampler{b.Dx(), b.Dy(), func(x, y int) (uint32, uint32, uint32, uint32) {
			i := m.PixOffset(x+b.Min.X, y+b.Min.Y)
			p := m.Pix[i : i+4 : i+4]
			a := uint32(p[3]) * 0x101
			return uint32(p[0]) * a / 0xff, uint32(p[1]) * a / 0xff, uint32(p[2]) * a / 0xff, a
		}}
	case image.RGBA64Image: // every other standard type; RGBA64At does not allocate
		return pixelSampler{b.Dx(), b.Dy(), func(x, y int) (uint32, uint32, uint32, uint32) {
			c := m.RGBA64At(x+b.Min.X, y+b.Min.Y)
			return uint32(c.R), uint32(c.G), uint32(c.B), uint32(c.A)
		}}
	}
	return pixelSampler{b.Dx(), b.Dy(), func(x, y int) (uint32, uint32, uint32, uint32) {
		return img.At(x+b.Min.X, y+b.Min.Y).RGBA()
	}}
}

// taps are the four pixels around a sample point and their weights.
type taps struct {
	x0, x1, y0, y1 int
	wx, wy         uint64 // weight of x1 and y1, out of 256: finer than any print shows
}

func tapsAt(fx, fy float64, w, h int) taps {
	x0f, y0f := math.Floor(fx), math.Floor(fy)
	x0, y0 := int(x0f), int(y0f)
	return taps{
		x0: max(x0, 0), x1: min(x0+1, w-1),
		y0: max(y0, 0), y1: min(y0+1, h-1),
		wx: uint64((fx-x0f)*256 + 0.5),
		wy: uint64((fy-y0f)*256 + 0.5),
	}
}

// mix blends the values at the four taps (top-left, top-right,
// bottom-left, bottom-right).
func (t *taps) mix(c00, c10, c01, c11 uint32) uint32 {
	top := uint64(c00)*(256-t.wx) + uint64(c10)*t.wx
	bottom := uint64(c01)*(256-t.wx) + uint64(c11)*t.wx
	return uint32((top*(256-t.wy) + bottom*t.wy + 1<<15) >> 16)
}

// pixelSampler blends premultiplied colours read one pixel at a time.
type pixelSampler struct {
	w, h int
	at   func(x, y int) (r, g, b, a uint32) // (x, y) from the top-left, in bounds
}

func (s pixelSampler) bilinear(fx, fy float64) (r, g, b, a uint32) {
	t := tapsAt(fx, fy, s.w, s.h)
	r00, g00, b00, a00 := s.at(t.x0, t.y0)
	r10, g10, b10, a10 := s.at(t.x1, t.y0)
	r01, g01, b01, a01 := s.at(t.x0, t.y1)
	r11, g11, b11, a11 := s.at(t.x1, t.y1)
	return t.mix(r00, r10, r01, r11), t.mix(g00, g10, g01, g11), t.mix(b00, b10, b01, b11), t.mix(a00, a10, a01, a11)
}

// ycbcrSampler blends luma and chroma, then converts once: the conversion
// is linear, so this equals blending RGB, at a quarter of the cost.
type ycbcrSampler struct {
	m    *image.YCbCr
	w, h int
}

func (s ycbcrSampler) bilinear(fx, fy float64) (r, g, b, a uint32) {
	t := tapsAt(fx, fy, s.w, s.h)
	m, origin := s.m, s.m.Rect.Min
	x0, x1, y0, y1 := t.x0+origin.X, t.x1+origin.X, t.y0+origin.Y, t.y1+origin.Y
	y00, y10, y01, y11 := m.YOffset(x0, y0), m.YOffset(x1, y0), m.YOffset(x0, y1), m.YOffset(x1, y1)
	c00, c10, c01, c11 := m.COffset(x0, y0), m.COffset(x1, y0), m.COffset(x0, y1), m.COffset(x1, y1)
	c := color.YCbCr{
		Y:  uint8(t.mix(uint32(m.Y[y00]), uint32(m.Y[y10]), uint32(m.Y[y01]), uint32(m.Y[y11]))),
		Cb: uint8(t.mix(uint32(m.Cb[c00]), uint32(m.Cb[c10]), uint32(m.Cb[c01]), uint32(m.Cb[c11]))),
		Cr: uint8(t.mix(uint32(m.Cr[c00]), uint32(m.Cr[c10]), uint32(m.Cr[c01]), uint32(m.Cr[c11]))),
	}
	r, g, b, _ = c.RGBA()
	return r, g, b, 0xffff
}
