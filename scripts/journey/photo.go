package main

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
)

// Photo sizes: what a phone's main camera gives (12 megapixels, 4:3).
const (
	photoWidth   = 4032
	photoHeight  = 3024
	photoQuality = 92
)

// makePhoto encodes a photo-like JPEG of w x h pixels: smooth gradients
// (sky, ground, a sun) under sensor-like noise, so that it compresses as a
// camera photo does (about 3 MB at 12 MP) and not as a flat test card does.
// The same size always gives the same bytes.
func makePhoto(w, h int) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	horizon := h * 3 / 5
	sunX, sunY, sunR := float64(w)*0.7, float64(h)*0.3, float64(h)/8
	for y := range h {
		fy := float64(y) / float64(h)
		for x := range w {
			fx := float64(x) / float64(w)
			var r, g, b float64
			if y < horizon {
				// Sky: deep blue at the top to pale at the horizon.
				r, g, b = 60+150*fy, 110+120*fy, 200+40*fy
			} else {
				// Ground: greens and browns in slow waves.
				wave := math.Sin(fx*9+fy*4) * 25
				r, g, b = 70+60*fx+wave, 110+40*fy-wave, 40+20*fx
			}
			if d := math.Hypot(float64(x)-sunX, float64(y)-sunY); d < sunR*2 {
				glow := 1 - d/(sunR*2)
				r, g, b = r+150*glow, g+120*glow, b+40*glow
			}
			const noise = 6 // sensor noise: puts 12 MP at about 3 MB, as a phone photo
			px := img.Pix[img.PixOffset(x, y):]
			px[0] = clamp(r + rng.NormFloat64()*noise)
			px[1] = clamp(g + rng.NormFloat64()*noise)
			px[2] = clamp(b + rng.NormFloat64()*noise)
			px[3] = 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: photoQuality}); err != nil {
		return nil, fmt.Errorf("encode the photo: %w", err)
	}
	return buf.Bytes(), nil
}

func clamp(v float64) uint8 {
	return uint8(max(0, min(255, math.Round(v))))
}
