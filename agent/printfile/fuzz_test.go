package printfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"image"
	"os"
	"testing"
)

// fuzzLimits keep each fuzz iteration small while still exercising every
// check.
var fuzzLimits = Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 18, MaxSide: 2048}

func FuzzDecode(f *testing.F) {
	f.Add(encodeJPEG(f, quadrants(16, 16)))
	f.Add(withEXIFOrientation(encodeJPEG(f, quadrants(16, 8)), 6, binary.LittleEndian))
	f.Add(encodePNG(f, quadrants(9, 7)))
	f.Add(encodePNG(f, gradient(12, 12)))
	f.Add(pngHeader(50000, 50000))
	f.Add(jpegHeader(65535, 1))
	f.Add(riffWebP([]byte("VP8X"), vp8xPayload(10, 10), []byte("VP8L"), vp8lHeader(16000, 16000)))
	for _, name := range []string{"testdata/gopher-doc.1bpp.lossless.webp", "testdata/blue-purple-pink.lossy.webp"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	tpl := opaqueTemplate(f, 8, 12)

	f.Fuzz(func(t *testing.T, data []byte) {
		// The EXIF reader only runs on decodable JPEGs; give it everything.
		if o := jpegOrientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
		img, format, err := Decode(bytes.NewReader(data), fuzzLimits)
		if err != nil {
			if !errors.Is(err, ErrNotImage) && !errors.Is(err, ErrTooManyPixels) &&
				!errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		size := img.Bounds().Size()
		if size.X <= 0 || size.Y <= 0 || size.X > fuzzLimits.MaxSide || size.Y > fuzzLimits.MaxSide ||
			int64(size.X)*int64(size.Y) > fuzzLimits.MaxPixels {
			t.Fatalf("%s decoded to %v, outside the limits", format, size)
		}
		Render(img, tpl, Placement{Scale: 1.3, Rotation: 30})
	})
}

func FuzzParsePlacement(f *testing.F) {
	for _, s := range []string{
		"", "{}", "null", `{"scale":1.4,"rotation":90,"offset":{"x":0.1,"y":-0.05},"flipX":true,"flipY":true}`,
		`{"scale":0}`, `{"scale":1e400}`, `{"offset":{"x":5.0000001}}`, `{"zoom":1}`, `{} {}`, `[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePlacement(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidPlacement) {
				t.Fatalf("error without ErrInvalidPlacement: %v", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted %+v that does not validate: %v", p, err)
		}
		// What was accepted survives a round trip unchanged.
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParsePlacement(again)
		if err != nil || q != p {
			t.Fatalf("round trip of %+v gave %+v, %v", p, q, err)
		}
	})
}

func FuzzCheck(f *testing.F) {
	img := image.NewNRGBA(image.Rect(0, 0, 6, 4))
	for _, opt := range []EncodeOptions{{Format: TIFF}, {Format: PNG}, {Format: TIFF, Rotate90: true}} {
		var buf bytes.Buffer
		if err := Encode(&buf, img, opt); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte("II*\x00\x08\x00\x00\x00"))
	f.Add([]byte("MM\x00*\x00\x00\x00\x08"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Check(bytes.NewReader(data), 6, 4, 1<<16)
	})
}
