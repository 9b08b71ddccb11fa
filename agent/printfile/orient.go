package printfile

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"math"
)

// Phone cameras store the sensor's pixels as they came and record how to
// turn them upright in the EXIF Orientation tag. Browsers apply it, so the
// customer designs on the upright photo; the print must use the same one.

// jpegOrientation returns the EXIF orientation (1-8) of a JPEG, or 1 when
// it has none or it cannot be read: a photo printed as stored is a better
// failure than a rejected order.
func jpegOrientation(data []byte) int {
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return 1
	}
	for p := 2; p+4 <= len(data); {
		if data[p] != 0xFF {
			return 1
		}
		marker := data[p+1]
		switch {
		case marker == 0xFF: // fill byte before a marker
			p++
			continue
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8): // markers without a length
			p += 2
			continue
		case marker == 0xDA || marker == 0xD9: // start of scan, end of image: no metadata after
			return 1
		}
		n := int(binary.BigEndian.Uint16(data[p+2:]))
		if n < 2 || p+2+n > len(data) {
			return 1
		}
		segment := data[p+4 : p+2+n]
		if marker == 0xE1 && bytes.HasPrefix(segment, []byte("Exif\x00\x00")) {
			return exifOrientation(segment[6:])
		}
		p += 2 + n
	}
	return 1
}

// exifOrientation reads tag 0x0112 from IFD0 of a TIFF-structured EXIF
// block, or returns 1.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var order binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 1
	}
	if order.Uint16(t[2:]) != 42 {
		return 1
	}
	offset := order.Uint32(t[4:])
	if offset < 8 || uint64(offset)+2 > uint64(len(t)) {
		return 1
	}
	ifd := t[offset:]
	entries := int(order.Uint16(ifd))
	const entrySize = 12 // tag, type, count, value
	for i := range entries {
		start := 2 + i*entrySize
		if start+entrySize > len(ifd) {
			return 1
		}
		e := ifd[start : start+entrySize]
		const tagOrientation, typeShort = 0x0112, 3
		if order.Uint16(e) != tagOrientation {
			continue
		}
		if order.Uint16(e[2:]) != typeShort {
			return 1
		}
		// A single SHORT sits left-aligned in the 4-byte value field.
		if v := int(order.Uint16(e[8:])); v >= 1 && v <= 8 {
			return v
		}
		return 1
	}
	return 1
}

// orientedImage is a stored image seen upright, without a copy.
type orientedImage struct {
	src      image.Image
	toStored affine
	w, h     int // upright size
}

// orient returns img seen upright per the EXIF orientation o.
func orient(img image.Image, o int) image.Image {
	if o < 2 || o > 8 {
		return img
	}
	size := img.Bounds().Size()
	w, h := size.X, size.Y
	if o >= 5 { // the orientations that swap width and height
		w, h = h, w
	}
	return &orientedImage{src: img, toStored: uprightToStored(o, size.X, size.Y), w: w, h: h}
}

// uprightToStored maps upright continuous coordinates to those of the
// stored sw x sh image, relative to its top-left corner.
func uprightToStored(o, sw, sh int) affine {
	w, h := float64(sw), float64(sh)
	switch o {
	case 2: // mirrored left-right
		return affine{xx: -1, x0: w, yy: 1}
	case 3: // rotated 180°
		return affine{xx: -1, x0: w, yy: -1, y0: h}
	case 4: // mirrored top-bottom
		return affine{xx: 1, yy: -1, y0: h}
	case 5: // transposed
		return affine{xy: 1, yx: 1}
	case 6: // stored rotated 90° anticlockwise: turn it clockwise
		return affine{xy: 1, yx: -1, y0: h}
	case 7: // transversed
		return affine{xy: -1, x0: w, yx: -1, y0: h}
	case 8: // stored rotated 90° clockwise: turn it anticlockwise
		return affine{xy: -1, x0: w, yx: 1}
	}
	return affine{xx: 1, yy: 1}
}

func (m *orientedImage) ColorModel() color.Model { return m.src.ColorModel() }
func (m *orientedImage) Bounds() image.Rectangle { return image.Rect(0, 0, m.w, m.h) }

func (m *orientedImage) At(x, y int) color.Color {
	if !(image.Point{x, y}.In(m.Bounds())) {
		return color.Transparent
	}
	// Map the pixel's centre: the result is a stored pixel's centre exactly.
	sx, sy := m.toStored.apply(float64(x)+0.5, float64(y)+0.5)
	origin := m.src.Bounds().Min
	return m.src.At(origin.X+int(math.Floor(sx)), origin.Y+int(math.Floor(sy)))
}
