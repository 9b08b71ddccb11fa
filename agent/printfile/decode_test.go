package printfile

import (
	"bytes"
	"errors"
	"image/color"
	"image/gif"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/image/bmp"
)

func TestDecodeAcceptsJPEGPNGAndWebP(t *testing.T) {
	lossless, err := os.ReadFile("testdata/gopher-doc.1bpp.lossless.webp")
	if err != nil {
		t.Fatal(err)
	}
	lossy, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, format string
		data         []byte
		w, h         int
	}{
		{"jpeg", "jpeg", encodeJPEG(t, quadrants(64, 48)), 64, 48},
		{"png", "png", encodePNG(t, quadrants(33, 17)), 33, 17},
		{"lossless webp", "webp", lossless, 75, 100},
		{"lossy webp", "webp", lossy, 150, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, format, err := Decode(bytes.NewReader(tc.data), DefaultLimits())
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if format != tc.format {
				t.Errorf("format %q, want %q", format, tc.format)
			}
			if size := img.Bounds().Size(); size.X != tc.w || size.Y != tc.h {
				t.Errorf("size %v, want %dx%d", size, tc.w, tc.h)
			}
		})
	}
}

func TestDecodeKeepsPixels(t *testing.T) {
	photo := quadrants(10, 6)
	img, _, err := Decode(bytes.NewReader(encodePNG(t, photo)), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	for y := range 6 {
		for x := range 10 {
			if got := color.NRGBAModel.Convert(img.At(x, y)); got != photo.NRGBAAt(x, y) {
				t.Fatalf("pixel (%d, %d) = %v, want %v", x, y, got, photo.NRGBAAt(x, y))
			}
		}
	}
}

func TestDecodeRejectsHostileInput(t *testing.T) {
	validJPEG := encodeJPEG(t, quadrants(64, 64))
	validPNG := encodePNG(t, gradient(20, 20))
	var gifData bytes.Buffer
	if err := gif.Encode(&gifData, quadrants(8, 8), nil); err != nil {
		t.Fatal(err)
	}
	var bmpData bytes.Buffer
	if err := bmp.Encode(&bmpData, quadrants(8, 8)); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		data []byte
		lim  Limits
		want error
	}{
		{"empty input", nil, Limits{}, ErrNotImage},
		{"text file", []byte("hello, this is not a photo\n"), Limits{}, ErrNotImage},
		{"html pretending to be an image", []byte("<!DOCTYPE html><img src=x onerror=alert(1)>"), Limits{}, ErrNotImage},
		{"gif", gifData.Bytes(), Limits{}, ErrNotImage},
		{"bmp", bmpData.Bytes(), Limits{}, ErrNotImage},
		{"png header claiming 50000x50000", pngHeader(50000, 50000), Limits{}, ErrTooManyPixels},
		{"png header claiming 2^31-1 x 1", pngHeader(1<<31-1, 1), Limits{}, ErrTooManyPixels},
		{"png within side limit but over pixel limit", pngHeader(8000, 7000), Limits{}, ErrTooManyPixels},
		{"png over a custom limit", validPNG, Limits{MaxPixels: 399}, ErrTooManyPixels},
		{"png declaring 0x0", pngHeader(0, 0), Limits{}, ErrCorrupt},
		{"jpeg SOF claiming 65535x65535", jpegHeader(65535, 65535), Limits{}, ErrTooManyPixels},
		{"jpeg SOF claiming 12000x11000", jpegHeader(12000, 11000), Limits{}, ErrTooManyPixels},
		{"jpeg SOF claiming 20000x10", jpegHeader(20000, 10), Limits{}, ErrTooManyPixels},
		{"webp VP8X claiming 16384x16384", riffWebP([]byte("VP8X"), vp8xPayload(16384, 16384)), Limits{}, ErrTooManyPixels},
		{"webp VP8X claiming 2^24 x 2^24", riffWebP([]byte("VP8X"), vp8xPayload(1<<24, 1<<24)), Limits{}, ErrCorrupt},
		{"webp VP8L claiming 16384x16384", riffWebP([]byte("VP8L"), vp8lHeader(16384, 16384)), Limits{}, ErrTooManyPixels},
		{"webp VP8X 10x10 hiding a 16000x16000 VP8L",
			riffWebP([]byte("VP8X"), vp8xPayload(10, 10), []byte("VP8L"), vp8lHeader(16000, 16000)), Limits{}, ErrCorrupt},
		{"webp RIFF header only", []byte("RIFF\x04\x00\x00\x00WEBP"), Limits{}, ErrCorrupt},
		{"truncated jpeg", validJPEG[:len(validJPEG)/2], Limits{}, ErrTruncated},
		{"jpeg magic only", validJPEG[:3], Limits{}, ErrTruncated},
		{"truncated png", validPNG[:len(validPNG)-30], Limits{}, ErrTruncated},
		{"png header without pixel data", pngHeader(100, 100), Limits{}, ErrTruncated},
		{"png with a bad checksum", corruptByte(validPNG, 40), Limits{}, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, _, err := Decode(bytes.NewReader(tc.data), tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, want %v", err, tc.want)
			}
			t.Log(err)
			if img != nil {
				t.Errorf("an image came back with the error")
			}
		})
	}
}

func TestDecodeRejectsHugeDeclaredSizeWithoutAllocating(t *testing.T) {
	// A 33-byte PNG promising 50000x50000 RGBA pixels (10 GB): Decode
	// must refuse it from the header alone.
	data := pngHeader(50000, 50000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := Decode(bytes.NewReader(data), DefaultLimits())
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("Decode = %v, want ErrTooManyPixels", err)
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 1<<20 {
		t.Errorf("Decode allocated %d bytes to refuse a header", allocated)
	}
}

func TestDecodeStopsReadingOversizedUploads(t *testing.T) {
	// 20 MB that starts like a JPEG: Decode reads one byte past the limit
	// and stops.
	upload := &countingReader{r: io.MultiReader(bytes.NewReader([]byte{0xFF, 0xD8, 0xFF}), zeros{}), limit: 20 << 20}
	lim := DefaultLimits()
	_, _, err := Decode(upload, lim)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Decode = %v, want ErrTooLarge", err)
	}
	if upload.n != lim.MaxBytes+1 {
		t.Errorf("read %d bytes, want MaxBytes+1 = %d", upload.n, lim.MaxBytes+1)
	}
}

func TestDecodeAcceptsAnUploadOfExactlyMaxBytes(t *testing.T) {
	data := encodePNG(t, quadrants(16, 16))
	if _, _, err := Decode(bytes.NewReader(data), Limits{MaxBytes: int64(len(data))}); err != nil {
		t.Errorf("upload of exactly MaxBytes: %v", err)
	}
	if _, _, err := Decode(bytes.NewReader(data), Limits{MaxBytes: int64(len(data) - 1)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("upload one byte over MaxBytes: %v, want ErrTooLarge", err)
	}
}

func TestDecodeReadsFromFiles(t *testing.T) {
	// Large multipart uploads are spooled to disk: Decode gets an *os.File.
	name := filepath.Join(t.TempDir(), "photo.png")
	if err := os.WriteFile(name, encodePNG(t, quadrants(30, 20)), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	img, format, err := Decode(f, DefaultLimits())
	if err != nil || format != "png" || img.Bounds().Dx() != 30 {
		t.Fatalf("Decode from a file = %v, %q, %v", img.Bounds(), format, err)
	}
}

func TestDecodePassesOnReadErrors(t *testing.T) {
	boom := errors.New("connection reset")
	_, _, err := Decode(io.MultiReader(bytes.NewReader([]byte{0xFF, 0xD8}), failingReader{boom}), DefaultLimits())
	if !errors.Is(err, boom) {
		t.Errorf("Decode = %v, want the reader's error", err)
	}
}

func TestDefaultLimitsFillZeroFields(t *testing.T) {
	got := Limits{MaxSide: 100}.withDefaults()
	want := Limits{MaxBytes: 15 << 20, MaxPixels: 50_000_000, MaxSide: 100}
	if got != want {
		t.Errorf("withDefaults = %+v, want %+v", got, want)
	}
}

func corruptByte(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xFF
	return c
}

type countingReader struct {
	r        io.Reader
	n, limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.limit {
		return 0, io.EOF
	}
	if int64(len(p)) > c.limit-c.n {
		p = p[:c.limit-c.n]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }
