package printfile

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"strings"
	"testing"

	"golang.org/x/image/tiff"
)

// renderedSample is a small print file with cut-outs, partial alpha and
// colour: everything a format must carry losslessly.
func renderedSample(t *testing.T) *image.NRGBA {
	tplImg := image.NewNRGBA(image.Rect(0, 0, 24, 40))
	for y := 1; y < 39; y++ {
		for x := 1; x < 23; x++ {
			tplImg.SetNRGBA(x, y, color.NRGBA{0, 0, 0, uint8(100 + x)})
		}
	}
	tplImg.SetNRGBA(5, 5, color.NRGBA{}) // camera hole
	return Render(gradient(20, 20), mustTemplate(t, tplImg), Placement{Scale: 1.2, Rotation: 10})
}

func TestEncodeRoundTrip(t *testing.T) {
	src := renderedSample(t)
	for _, tc := range []struct {
		format Format
		decode func([]byte) (image.Image, error)
	}{
		{TIFF, func(b []byte) (image.Image, error) { return tiff.Decode(bytes.NewReader(b)) }},
		{"", func(b []byte) (image.Image, error) { return tiff.Decode(bytes.NewReader(b)) }},
		{PNG, func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }},
	} {
		for _, rotate := range []bool{false, true} {
			var buf bytes.Buffer
			if err := Encode(&buf, src, EncodeOptions{Format: tc.format, Rotate90: rotate}); err != nil {
				t.Fatalf("Encode %q: %v", tc.format, err)
			}
			w, h := 24, 40
			if rotate {
				w, h = h, w
			}
			if err := Check(bytes.NewReader(buf.Bytes()), 24, 40, 1<<20); err != nil {
				t.Errorf("Check of an encoded %q (rotated %v): %v", tc.format, rotate, err)
			}
			got, err := tc.decode(buf.Bytes())
			if err != nil {
				t.Fatalf("decode %q: %v", tc.format, err)
			}
			if got.Bounds() != image.Rect(0, 0, w, h) {
				t.Fatalf("%q rotated %v: %v, want %dx%d", tc.format, rotate, got.Bounds(), w, h)
			}
			for y := range 40 {
				for x := range 24 {
					gx, gy := x, y
					if rotate { // a quarter turn clockwise: (x, y) -> (h-1-y, x)
						gx, gy = 40-1-y, x
					}
					want := src.NRGBAAt(x, y)
					if g := color.NRGBAModel.Convert(got.At(gx, gy)).(color.NRGBA); g != want && !(g.A == 0 && want.A == 0) {
						t.Fatalf("%q rotated %v: pixel (%d, %d) = %v, want %v", tc.format, rotate, x, y, g, want)
					}
				}
			}
		}
	}
}

func TestEncodeRejectsUnknownFormats(t *testing.T) {
	err := Encode(&bytes.Buffer{}, renderedSample(t), EncodeOptions{Format: "jpeg"})
	if err == nil || !strings.Contains(err.Error(), "jpeg") {
		t.Errorf("Encode as jpeg = %v, want an unknown-format error", err)
	}
}

func TestRotate90ConvertsOtherImageTypes(t *testing.T) {
	src := image.NewGray(image.Rect(10, 10, 13, 12)) // 3x2, not at the origin
	src.SetGray(10, 10, color.Gray{200})
	got := rotate90(src)
	if got.Bounds() != image.Rect(0, 0, 2, 3) {
		t.Fatalf("bounds %v, want 2x3", got.Bounds())
	}
	// The top-left pixel goes to the top-right.
	if c := got.NRGBAAt(1, 0); c != (color.NRGBA{200, 200, 200, 255}) {
		t.Errorf("top-right = %v, want the old top-left", c)
	}
}

func TestFormatServing(t *testing.T) {
	for _, tc := range []struct {
		f         Format
		ext, mime string
	}{{TIFF, ".tif", "image/tiff"}, {"", ".tif", "image/tiff"}, {PNG, ".png", "image/png"}} {
		if tc.f.Ext() != tc.ext || tc.f.ContentType() != tc.mime {
			t.Errorf("%q: %s %s, want %s %s", tc.f, tc.f.Ext(), tc.f.ContentType(), tc.ext, tc.mime)
		}
	}
}

func TestCheckRejectsBadPrintFiles(t *testing.T) {
	var tiffFile, pngFile bytes.Buffer
	if err := Encode(&tiffFile, renderedSample(t), EncodeOptions{Format: TIFF}); err != nil {
		t.Fatal(err)
	}
	if err := Encode(&pngFile, renderedSample(t), EncodeOptions{Format: PNG}); err != nil {
		t.Fatal(err)
	}
	var gifFile bytes.Buffer
	if err := gif.Encode(&gifFile, quadrants(24, 40), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		data     []byte
		w, h     int
		maxBytes int64
		want     error // nil: any error
	}{
		{"tiff of the wrong size", tiffFile.Bytes(), 24, 41, 1 << 20, nil},
		{"png of the wrong size", pngFile.Bytes(), 40, 40, 1 << 20, nil},
		{"too large", tiffFile.Bytes(), 24, 40, 100, ErrTooLarge},
		{"gif", gifFile.Bytes(), 24, 40, 1 << 20, ErrNotImage},
		{"jpeg", encodeJPEG(t, quadrants(24, 40)), 24, 40, 1 << 20, ErrNotImage},
		{"empty", nil, 24, 40, 1 << 20, ErrNotImage},
		{"truncated tiff", tiffFile.Bytes()[:tiffFile.Len()/2], 24, 40, 1 << 20, nil},
		{"truncated png", pngFile.Bytes()[:pngFile.Len()-20], 24, 40, 1 << 20, ErrTruncated},
		{"tiff header only", []byte("II*\x00\x08\x00\x00\x00"), 24, 40, 1 << 20, nil},
		{"png header claiming a huge size", pngHeader(50000, 50000), 24, 40, 1 << 20, nil},
		{"nonsense expectations", pngFile.Bytes(), 0, 40, 1 << 20, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(bytes.NewReader(tc.data), tc.w, tc.h, tc.maxBytes)
			if err == nil {
				t.Fatal("Check accepted it")
			}
			t.Log(err)
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}
