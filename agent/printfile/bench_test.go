package printfile

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// The benchmarks model a real order: a 12-megapixel phone photo (4000x3000
// JPEG) placed on a phone-case template of 844x1742 with rounded corners
// and a camera hole.

var (
	benchJPEG = sync.OnceValue(func() []byte {
		// A gradient with noise, so the JPEG is as large as a camera's.
		const w, h = 4000, 3000
		img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		rng := rand.New(rand.NewPCG(1, 2))
		for y := range h {
			for x := range w {
				img.Y[y*img.YStride+x] = uint8((x*180/w + y*50/h) + rng.IntN(24))
			}
		}
		for y := range h / 2 {
			for x := range w / 2 {
				img.Cb[y*img.CStride+x] = uint8(64 + x*128/(w/2) + rng.IntN(4))
				img.Cr[y*img.CStride+x] = uint8(192 - y*128/(h/2) + rng.IntN(4))
			}
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92}); err != nil {
			panic(err)
		}
		return buf.Bytes()
	})
	benchTemplate = sync.OnceValue(func() *Template {
		const w, h, corner, holeR = 844, 1742, 110, 150
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		inside := func(x, y int) bool {
			// Rounded rectangle: outside a corner's circle is cut off.
			cx, cy := min(max(x, corner), w-1-corner), min(max(y, corner), h-1-corner)
			if (x-cx)*(x-cx)+(y-cy)*(y-cy) > corner*corner {
				return false
			}
			// Camera hole near the top-left.
			hx, hy := x-230, y-260
			return hx*hx+hy*hy > holeR*holeR
		}
		for y := range h {
			for x := range w {
				if inside(x, y) {
					img.SetNRGBA(x, y, color.NRGBA{0, 0, 0, 255})
				}
			}
		}
		t, err := NewTemplate(img)
		if err != nil {
			panic(err)
		}
		return t
	})
	benchPlacement = Placement{Scale: 1.15, Rotation: 8, Offset: Offset{X: 0.03, Y: -0.02}}
)

func decodeBenchPhoto(b *testing.B) image.Image {
	img, _, err := Decode(bytes.NewReader(benchJPEG()), DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	return img
}

func BenchmarkDecode12MP(b *testing.B) {
	data := benchJPEG()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(bytes.NewReader(data), DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRender12MP(b *testing.B) {
	photo, tpl := decodeBenchPhoto(b), benchTemplate()
	b.ReportAllocs()
	for b.Loop() {
		Render(photo, tpl, benchPlacement)
	}
}

func BenchmarkEncode(b *testing.B) {
	out := Render(decodeBenchPhoto(b), benchTemplate(), benchPlacement)
	for _, opt := range []EncodeOptions{{Format: TIFF}, {Format: PNG}, {Format: TIFF, Rotate90: true}} {
		name := string(opt.Format)
		if opt.Rotate90 {
			name += "-rotate90"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				cw := &countingWriter{}
				if err := Encode(cw, out, opt); err != nil {
					b.Fatal(err)
				}
				size = cw.n
			}
			b.ReportMetric(float64(size)/1e6, "file-MB")
		})
	}
}

// BenchmarkPrintFile12MP is a whole order: decode the upload, render it,
// encode the TIFF. peak-heap-MB is the most heap in use (live and not yet
// collected) above what was in use before, sampled every millisecond.
func BenchmarkPrintFile12MP(b *testing.B) {
	data, tpl := benchJPEG(), benchTemplate()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	peak := startHeapPeak()
	for b.Loop() {
		photo, _, err := Decode(bytes.NewReader(data), DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		if err := Encode(io.Discard, Render(photo, tpl, benchPlacement), EncodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
}

// startHeapPeak collects garbage, then samples heap in use until the
// returned function is called, which reports the peak above the start.
func startHeapPeak() func() uint64 {
	runtime.GC()
	const name = "/memory/classes/heap/objects:bytes"
	sample := []metrics.Sample{{Name: name}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	base := read()
	var peak uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if v := read(); v > base {
					peak = max(peak, v-base)
				}
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		return peak
	}
}

type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += len(p)
	return len(p), nil
}
