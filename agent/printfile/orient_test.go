package printfile

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"testing"
)

func TestJPEGOrientationIsReadFromEXIF(t *testing.T) {
	jpg := encodeJPEG(t, quadrants(16, 8))
	for o := uint16(1); o <= 8; o++ {
		for _, order := range []binary.AppendByteOrder{binary.BigEndian, binary.LittleEndian} {
			if got := jpegOrientation(withEXIFOrientation(jpg, o, order)); got != int(o) {
				t.Errorf("orientation %d (%v): read %d", o, order, got)
			}
		}
	}
	for name, data := range map[string][]byte{
		"no EXIF":                jpg,
		"orientation 0":          withEXIFOrientation(jpg, 0, binary.BigEndian),
		"orientation 9":          withEXIFOrientation(jpg, 9, binary.BigEndian),
		"EXIF cut short":         withEXIFOrientation(jpg, 6, binary.BigEndian)[:30],
		"not a JPEG":             []byte("hello"),
		"segment length too big": {0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E', 'x'},
	} {
		if got := jpegOrientation(data); got != 1 {
			t.Errorf("%s: orientation %d, want 1", name, got)
		}
	}
}

func TestOrientedImageIsUpright(t *testing.T) {
	// A stored 3x2 image with distinct pixels; each orientation's upright
	// view, written out by hand from the EXIF specification.
	stored := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	for i := range 6 {
		stored.SetNRGBA(i%3, i/3, color.NRGBA{uint8(i), 0, 0, 255})
	}
	// Stored pixels by index:  0 1 2
	//                          3 4 5
	want := map[int][][]uint8{
		1: {{0, 1, 2}, {3, 4, 5}},
		2: {{2, 1, 0}, {5, 4, 3}},
		3: {{5, 4, 3}, {2, 1, 0}},
		4: {{3, 4, 5}, {0, 1, 2}},
		5: {{0, 3}, {1, 4}, {2, 5}},
		6: {{3, 0}, {4, 1}, {5, 2}}, // turned clockwise
		7: {{5, 2}, {4, 1}, {3, 0}},
		8: {{2, 5}, {1, 4}, {0, 3}}, // turned anticlockwise
	}
	for o, rows := range want {
		img := orient(stored, o)
		if got, w := img.Bounds(), image.Rect(0, 0, len(rows[0]), len(rows)); got != w {
			t.Errorf("orientation %d: bounds %v, want %v", o, got, w)
			continue
		}
		for y, row := range rows {
			for x, idx := range row {
				if got := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA).R; got != idx {
					t.Errorf("orientation %d: upright (%d, %d) shows stored pixel %d, want %d", o, x, y, got, idx)
				}
			}
		}

		// Render samples the stored pixels directly; it must see the same
		// upright image as At does.
		size := img.Bounds().Size()
		direct := Render(img, opaqueTemplate(t, size.X, size.Y), DefaultPlacement())
		for y := range size.Y {
			for x := range size.X {
				if got, w := direct.NRGBAAt(x, y), color.NRGBAModel.Convert(img.At(x, y)); got != w {
					t.Errorf("orientation %d: Render (%d, %d) = %v, At = %v", o, x, y, got, w)
				}
			}
		}
	}
}

func TestDecodeTurnsPhonePhotosUpright(t *testing.T) {
	// A phone held upright stores its photo sideways with orientation 6.
	// Stored: left half red, right half blue, 64x32. Upright (turned
	// clockwise), the stored left edge is the top: red above blue, 32x64.
	stored := image.NewNRGBA(image.Rect(0, 0, 64, 32))
	for y := range 32 {
		for x := range 64 {
			c := red
			if x >= 32 {
				c = blue
			}
			stored.SetNRGBA(x, y, c)
		}
	}
	data := withEXIFOrientation(encodeJPEG(t, stored), 6, binary.BigEndian)
	img, format, err := Decode(bytes.NewReader(data), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if format != "jpeg" || img.Bounds() != image.Rect(0, 0, 32, 64) {
		t.Fatalf("got %s %v, want an upright 32x64 jpeg", format, img.Bounds())
	}
	out := Render(img, opaqueTemplate(t, 32, 64), DefaultPlacement())
	if c := out.NRGBAAt(16, 8); !near(c, red, 8) {
		t.Errorf("top of the upright photo is %v, want red", c)
	}
	if c := out.NRGBAAt(16, 56); !near(c, blue, 8) {
		t.Errorf("bottom of the upright photo is %v, want blue", c)
	}
}
