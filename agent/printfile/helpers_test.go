package printfile

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

var (
	red     = color.NRGBA{255, 0, 0, 255}
	green   = color.NRGBA{0, 255, 0, 255}
	blue    = color.NRGBA{0, 0, 255, 255}
	yellow  = color.NRGBA{255, 255, 0, 255}
	black   = color.NRGBA{0, 0, 0, 255}
	white   = color.NRGBA{255, 255, 255, 255}
	magenta = color.NRGBA{255, 0, 255, 255}
	empty   = color.NRGBA{}
)

// quadrants is a w x h photo: red top-left, green top-right, blue
// bottom-left, yellow bottom-right.
func quadrants(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := red
			switch {
			case x >= w/2 && y < h/2:
				c = green
			case x < w/2 && y >= h/2:
				c = blue
			case x >= w/2 && y >= h/2:
				c = yellow
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// filled is a w x h image of one colour.
func filled(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// gradient is a photo whose red channel is 10·x and green 10·y, so any
// sample position can be read back from the colour.
func gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(10 * x), uint8(10 * y), 0, 255})
		}
	}
	return img
}

func mustTemplate(t testing.TB, img image.Image) *Template {
	t.Helper()
	tpl, err := NewTemplate(img)
	if err != nil {
		t.Fatalf("NewTemplate: %v", err)
	}
	return tpl
}

// opaqueTemplate has no cut-outs.
func opaqueTemplate(t testing.TB, w, h int) *Template {
	return mustTemplate(t, filled(w, h, white))
}

func assertPixel(t *testing.T, img *image.NRGBA, x, y int, want color.NRGBA) {
	t.Helper()
	if got := img.NRGBAAt(x, y); got != want {
		t.Errorf("pixel (%d, %d) = %v, want %v", x, y, got, want)
	}
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngHeader is a PNG signature and an IHDR chunk declaring w x h RGBA
// pixels, with a correct CRC, and nothing else.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32([]byte("IHDR"), w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // bit depth, RGBA, deflate, filter 0, no interlace
	b := []byte(pngMagic)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ihdr)-4))
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

// jpegHeader is a JPEG start, a baseline SOF0 declaring w x h with three
// components, the start of a scan and at once the end of the image.
func jpegHeader(w, h uint16) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8}
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	b = append(b, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)
	b = append(b, 0xFF, 0xDA, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0)
	return append(b, 0xFF, 0xD9)
}

// riffWebP wraps chunks (id, payload) in a RIFF WEBP container.
func riffWebP(chunks ...[]byte) []byte {
	var body []byte
	for i := 0; i+1 < len(chunks); i += 2 {
		body = append(body, chunks[i]...)
		body = binary.LittleEndian.AppendUint32(body, uint32(len(chunks[i+1])))
		body = append(body, chunks[i+1]...)
		if len(chunks[i+1])%2 == 1 {
			body = append(body, 0)
		}
	}
	b := []byte("RIFF")
	b = binary.LittleEndian.AppendUint32(b, uint32(4+len(body)))
	b = append(b, "WEBP"...)
	return append(b, body...)
}

// vp8xPayload declares a w x h canvas.
func vp8xPayload(w, h uint32) []byte {
	p := []byte{0, 0, 0, 0}
	p = append(p, byte(w-1), byte((w-1)>>8), byte((w-1)>>16))
	return append(p, byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
}

// vp8lHeader is the 5-byte header of a lossless bitstream declaring w x h
// (at most 16384 each), followed by a few bytes of nonsense.
func vp8lHeader(w, h uint32) []byte {
	bits := (w - 1) | (h-1)<<14 // no alpha hint, version 0
	return []byte{0x2f, byte(bits), byte(bits >> 8), byte(bits >> 16), byte(bits >> 24), 0, 0, 0}
}

// withEXIFOrientation inserts an APP1 EXIF segment carrying orientation o
// right after a JPEG's start marker.
func withEXIFOrientation(jpg []byte, o uint16, order binary.AppendByteOrder) []byte {
	tiffHdr := []byte("MM\x00\x2a")
	if order == binary.LittleEndian {
		tiffHdr = []byte("II\x2a\x00")
	}
	exif := append([]byte("Exif\x00\x00"), tiffHdr...)
	exif = order.AppendUint32(exif, 8) // IFD0 right after the header
	exif = order.AppendUint16(exif, 2) // two entries
	// An unrelated tag first (ImageWidth, LONG), then Orientation.
	exif = order.AppendUint16(exif, 0x0100)
	exif = order.AppendUint16(exif, 4)
	exif = order.AppendUint32(exif, 1)
	exif = order.AppendUint32(exif, 640)
	exif = order.AppendUint16(exif, 0x0112)
	exif = order.AppendUint16(exif, 3)
	exif = order.AppendUint32(exif, 1)
	exif = order.AppendUint16(exif, o)
	exif = order.AppendUint16(exif, 0)
	exif = order.AppendUint32(exif, 0) // no next IFD

	out := append([]byte{}, jpg[:2]...)
	out = append(out, 0xFF, 0xE1)
	out = binary.BigEndian.AppendUint16(out, uint16(2+len(exif)))
	out = append(out, exif...)
	return append(out, jpg[2:]...)
}
