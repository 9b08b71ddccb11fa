package printfile

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"
)

// noisy is a w x h photo of random pixels: any sample taken a fraction of
// a pixel away from where it should be shows.
func noisy(w, h int) *image.NRGBA {
	rng := rand.New(rand.NewPCG(1, 2))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img
}

// linear is a w x h photo whose colour is a linear function of the pixel
// index, which bilinear sampling reproduces at any position and any scale
// (up to rounding): the photo to compare downscaled copies with.
func linear(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(10 + 2*x), uint8(5 + 2*y), uint8(200 - x - y), 255})
		}
	}
	return img
}

// prepared is what a phone uploads for c: each pixel is the photo sampled
// bilinearly at the photo point of the pixel's centre.
func prepared(photo image.Image, c Crop) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, c.W, c.H))
	s := samplerFor(photo)
	for b := range c.H {
		for a := range c.W {
			u, v := c.X+(float64(a)+0.5)/c.F, c.Y+(float64(b)+0.5)/c.F
			r, g, bl, al := s.bilinear(u-0.5, v-0.5)
			out.SetNRGBA(a, b, color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(al >> 8)})
		}
	}
	return out
}

// caseTemplate is a w x h template with a round camera hole near the top.
func caseTemplate(t *testing.T, w, h int) *Template {
	img := filled(w, h, white)
	for y := range h {
		for x := range w {
			if math.Hypot(float64(x)-float64(w)/4, float64(y)-float64(h)/6) < float64(w)/6 {
				img.SetNRGBA(x, y, empty)
			}
		}
	}
	return mustTemplate(t, img)
}

// TestCropPlacementDrawsWhatTheWholePhotoDraws renders a template from a
// photo with a placement, and from a crop of the photo (scaled or not)
// with CropPlacement's placement: wherever the crop reaches, the print
// files agree.
func TestCropPlacementDrawsWhatTheWholePhotoDraws(t *testing.T) {
	const W, H = 50, 80
	tpl := caseTemplate(t, W, H)
	zoomed := Placement{Scale: 1.7, Offset: Offset{X: 0.12, Y: -0.08}}
	for _, tc := range []struct {
		name      string
		photo     *image.NRGBA
		p         Placement
		crop      Crop
		tolerance int // per channel
	}{
		// Cut out, not scaled: every sample is the same photo pixel, so
		// even random pixels agree.
		{"filling, cut", noisy(120, 90), DefaultPlacement(), Crop{X: 31, Y: 0, F: 1, W: 64, H: 90}, 1},
		{"zoomed and moved, cut", noisy(120, 90), zoomed, Crop{X: 40, Y: 10, F: 1, W: 45, H: 60}, 1},
		{"turned 90°, cut", noisy(120, 90), Placement{Scale: 1.2, Rotation: 90}, Crop{X: 17, Y: 20, F: 1, W: 90, H: 55}, 1},
		{"turned 30°, cut", noisy(120, 90), Placement{Scale: 1.5, Rotation: 30}, Crop{X: 20, Y: 9, F: 1, W: 80, H: 70}, 1},
		{"mirrored, cut", noisy(120, 90), Placement{Scale: 1.3, FlipX: true, Offset: Offset{X: -0.1}}, Crop{X: 35, Y: 5, F: 1, W: 60, H: 80}, 1},
		{"mirrored upside down at 270°, cut", noisy(90, 120), Placement{Scale: 1.1, Rotation: 270, FlipY: true}, Crop{X: 5, Y: 11, F: 1, W: 80, H: 90}, 1},
		// Scaled down as well, at fractional corners: a linear photo
		// stays linear, so the two agree up to rounding.
		{"filling, scaled to half", linear(100, 80), DefaultPlacement(), Crop{X: 24.5, Y: 0, F: 0.5, W: 28, H: 40}, 2},
		{"zoomed and moved, scaled", linear(100, 80), zoomed, Crop{X: 30.25, Y: 10.75, F: 0.6, W: 24, H: 36}, 2},
		{"turned 30° and mirrored, scaled", linear(100, 80), Placement{Scale: 1.4, Rotation: 30, FlipX: true}, Crop{X: 10.5, Y: 3.25, F: 0.7, W: 56, H: 52}, 2},
		{"turned 90°, scaled", linear(100, 80), Placement{Scale: 1.2, Rotation: 90}, Crop{X: 5, Y: 15.5, F: 0.45, W: 40, H: 24}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pw, ph := tc.photo.Bounds().Dx(), tc.photo.Bounds().Dy()
			want := Render(tc.photo, tpl, tc.p)
			q := CropPlacement(tc.p, W, H, pw, ph, tc.crop)
			if err := q.Validate(); err != nil {
				t.Fatalf("CropPlacement gave %+v: %v", q, err)
			}
			if q.Rotation != tc.p.Rotation || q.FlipX != tc.p.FlipX || q.FlipY != tc.p.FlipY {
				t.Errorf("rotation and flips changed: %+v from %+v", q, tc.p)
			}
			small := prepared(tc.photo, tc.crop)
			got := Render(small, tpl, q)

			// Compare where the whole photo's sample lies well inside the
			// crop (at its edge the crop's bilinear taps are clamped).
			c := tc.crop
			inside := func(u, v float64) bool {
				m := 1.5 / c.F
				return u >= c.X+m && u <= c.X+float64(c.W)/c.F-m && v >= c.Y+m && v <= c.Y+float64(c.H)/c.F-m
			}
			compared := 0
			for y := range H {
				for x := range W {
					u, v := tc.p.PhotoPoint(W, H, pw, ph, float64(x)+0.5, float64(y)+0.5)
					if !inside(u, v) {
						continue
					}
					a, b := want.NRGBAAt(x, y), got.NRGBAAt(x, y)
					if !near(a, b, tc.tolerance) {
						t.Fatalf("pixel (%d, %d): whole photo %v, crop %v (placement %+v)", x, y, a, b, q)
					}
					if a.A != 0 {
						compared++
					}
				}
			}
			if compared < W*H/4 {
				t.Fatalf("only %d inked pixels compared: the case does not test much", compared)
			}

			// The same crop with the placement left as it was draws
			// something else: the comparison above can fail.
			wrong := Render(small, tpl, tc.p)
			differ := 0
			for y := range H {
				for x := range W {
					if !near(want.NRGBAAt(x, y), wrong.NRGBAAt(x, y), tc.tolerance) {
						differ++
					}
				}
			}
			if differ < compared/4 {
				t.Errorf("the untransformed placement differs in only %d pixels", differ)
			}
		})
	}
}

// TestCropPlacementOfTheWholePhotoChangesNothing: a "crop" that is the
// whole photo, unscaled, is the placement as it was.
func TestCropPlacementOfTheWholePhotoChangesNothing(t *testing.T) {
	p := Placement{Scale: 1.3, Rotation: 37, Offset: Offset{X: 0.2, Y: -0.1}, FlipY: true}
	q := CropPlacement(p, 844, 1742, 4000, 3000, Crop{F: 1, W: 4000, H: 3000})
	if math.Abs(q.Scale-p.Scale) > 1e-12 || math.Abs(q.Offset.X-p.Offset.X) > 1e-12 || math.Abs(q.Offset.Y-p.Offset.Y) > 1e-12 {
		t.Errorf("got %+v, want %+v", q, p)
	}
}
