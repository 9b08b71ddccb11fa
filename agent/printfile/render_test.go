package printfile

import (
	"image"
	"image/color"
	"math"
	"testing"
)

func TestRenderIdentityReproducesThePhoto(t *testing.T) {
	photo := quadrants(20, 20)
	out := Render(photo, opaqueTemplate(t, 20, 20), DefaultPlacement())
	for y := range 20 {
		for x := range 20 {
			assertPixel(t, out, x, y, photo.NRGBAAt(x, y))
		}
	}
}

func TestRenderFillCoversTheTemplate(t *testing.T) {
	for _, tc := range []struct {
		name         string
		photoW, phH  int
		templW, tplH int
	}{
		{"landscape photo on a tall case", 400, 300, 84, 174},
		{"portrait photo on a tall case", 300, 400, 84, 174},
		{"tall photo on a wide template", 50, 500, 120, 60},
		{"tiny photo, big template", 4, 2, 100, 150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := Render(quadrants(tc.photoW, tc.phH), opaqueTemplate(t, tc.templW, tc.tplH), DefaultPlacement())
			if got := out.Bounds(); got != image.Rect(0, 0, tc.templW, tc.tplH) {
				t.Fatalf("output is %v, want the template's %dx%d", got, tc.templW, tc.tplH)
			}
			for y := range tc.tplH {
				for x := range tc.templW {
					if a := out.NRGBAAt(x, y).A; a != 255 {
						t.Fatalf("pixel (%d, %d) has alpha %d: the photo does not cover the template", x, y, a)
					}
				}
			}
			// Centred: each quadrant of the output shows the same quadrant of the photo.
			assertPixel(t, out, 0, 0, red)
			assertPixel(t, out, tc.templW-1, 0, green)
			assertPixel(t, out, 0, tc.tplH-1, blue)
			assertPixel(t, out, tc.templW-1, tc.tplH-1, yellow)
		})
	}
}

func TestRenderScale2ShowsTheCentreQuarter(t *testing.T) {
	// A 40x40 photo on a 20x20 template: fill is 0.5, so scale 2 maps one
	// photo pixel onto one output pixel, and the output is exactly the
	// photo's centre 20x20.
	photo := gradient(40, 40)
	out := Render(photo, opaqueTemplate(t, 20, 20), Placement{Scale: 2})
	for y := range 20 {
		for x := range 20 {
			assertPixel(t, out, x, y, photo.NRGBAAt(x+10, y+10))
		}
	}
}

func TestRenderRotation90TurnsClockwise(t *testing.T) {
	photo := filled(20, 20, white)
	photo.SetNRGBA(2, 5, magenta) // left of centre, near the top
	out := Render(photo, opaqueTemplate(t, 20, 20), Placement{Scale: 1, Rotation: 90})

	// Clockwise about the centre (10, 10): (u, v) -> (20 − v, u), so the
	// centre of (2, 5), (2.5, 5.5), lands at (14.5, 2.5): near the top,
	// right of centre.
	assertPixel(t, out, 14, 2, magenta)
	if n := count(out, magenta); n != 1 {
		t.Errorf("%d magenta pixels, want exactly 1", n)
	}
	// A full turn more changes nothing; −270 is the same as 90.
	for _, rot := range []float64{450, -270} {
		again := Render(photo, opaqueTemplate(t, 20, 20), Placement{Scale: 1, Rotation: rot})
		assertPixel(t, again, 14, 2, magenta)
	}
}

func TestRenderFlips(t *testing.T) {
	photo := quadrants(20, 20)
	tpl := opaqueTemplate(t, 20, 20)

	flippedX := Render(photo, tpl, Placement{Scale: 1, FlipX: true})
	flippedY := Render(photo, tpl, Placement{Scale: 1, FlipY: true})
	for y := range 20 {
		for x := range 20 {
			assertPixel(t, flippedX, x, y, photo.NRGBAAt(19-x, y))
			assertPixel(t, flippedY, x, y, photo.NRGBAAt(x, 19-y))
		}
	}

	// Flipping happens before rotation: flipX then 90° clockwise puts the
	// photo's top-right quadrant (green, mirrored to top-left) at the top
	// right of the output.
	both := Render(photo, tpl, Placement{Scale: 1, FlipX: true, Rotation: 90})
	assertPixel(t, both, 19, 0, green)
}

func TestRenderOffsetMovesByTemplateFractions(t *testing.T) {
	photo := gradient(20, 20)
	// Right by a quarter of the width (5 px), up by a tenth of the height (2 px).
	out := Render(photo, opaqueTemplate(t, 20, 20), Placement{Scale: 1, Offset: Offset{X: 0.25, Y: -0.1}})
	for y := range 20 {
		for x := range 20 {
			px, py := x-5, y+2
			want := empty // uncovered: transparent, not white
			if px >= 0 && py < 20 {
				want = photo.NRGBAAt(px, py)
			}
			assertPixel(t, out, x, y, want)
		}
	}
}

func TestRenderMatchesPhotoPoint(t *testing.T) {
	// On a linear gradient, bilinear sampling reads back the sample
	// position, so every interior output pixel must show the colour of
	// PhotoPoint(its centre): Render and the documented mapping agree.
	const pw, ph, tw, th = 24, 24, 17, 29
	photo := gradient(pw, ph)
	tpl := opaqueTemplate(t, tw, th)
	for _, p := range []Placement{
		{Scale: 1},
		{Scale: 1.7, Rotation: 33, Offset: Offset{0.05, -0.08}},
		{Scale: 2.5, Rotation: -120, FlipX: true},
		{Scale: 1.2, Rotation: 200, FlipY: true, Offset: Offset{-0.1, 0.1}},
	} {
		out := Render(photo, tpl, p)
		checked := 0
		for y := range th {
			for x := range tw {
				u, v := p.PhotoPoint(tw, th, pw, ph, float64(x)+0.5, float64(y)+0.5)
				if u < 1 || u > pw-1 || v < 1 || v > ph-1 {
					continue // edge clamping makes the gradient non-linear there
				}
				got := out.NRGBAAt(x, y)
				wantR, wantG := 10*(u-0.5), 10*(v-0.5)
				if math.Abs(float64(got.R)-wantR) > 1 || math.Abs(float64(got.G)-wantG) > 1 {
					t.Fatalf("%+v: pixel (%d, %d) = %v, want R≈%.1f G≈%.1f", p, x, y, got, wantR, wantG)
				}
				checked++
			}
		}
		if checked < 50 {
			t.Fatalf("%+v: only %d pixels checked", p, checked)
		}
	}
}

func TestRenderKeepsCutOutsEmpty(t *testing.T) {
	// A 30x40 template: transparent outside a 2 px margin, a transparent
	// camera hole, and a half-transparent anti-aliased pixel.
	tplImg := image.NewNRGBA(image.Rect(0, 0, 30, 40))
	for y := 2; y < 38; y++ {
		for x := 2; x < 28; x++ {
			if (x-8)*(x-8)+(y-8)*(y-8) > 16 { // hole of radius 4 at (8, 8)
				tplImg.SetNRGBA(x, y, color.NRGBA{0, 0, 0, 255})
			}
		}
	}
	tplImg.SetNRGBA(15, 1, color.NRGBA{0, 0, 0, 128})
	tpl := mustTemplate(t, tplImg)

	for _, photo := range []image.Image{filled(60, 80, blue), quadrants(7, 5)} {
		out := Render(photo, tpl, Placement{Scale: 1.3, Rotation: 17})
		for y := range 40 {
			for x := range 30 {
				got := out.NRGBAAt(x, y)
				switch ta := tplImg.NRGBAAt(x, y).A; ta {
				case 0:
					if got != empty {
						t.Fatalf("cut-out pixel (%d, %d) = %v, want empty", x, y, got)
					}
				default:
					if got.A != ta {
						t.Fatalf("pixel (%d, %d) alpha = %d, want the template's %d", x, y, got.A, ta)
					}
				}
			}
		}
	}
}

func TestRenderOutputIsTheTemplateSize(t *testing.T) {
	tpl := opaqueTemplate(t, 37, 81)
	for _, p := range []Placement{{Scale: 1}, {Scale: 20}, {Scale: 0.01}, {Scale: 3, Rotation: 45, Offset: Offset{5, -5}}} {
		if got := Render(quadrants(300, 7), tpl, p).Bounds(); got != image.Rect(0, 0, 37, 81) {
			t.Errorf("%+v: output %v, want 37x81", p, got)
		}
	}
}

func TestRenderSurvivesDegeneratePlacements(t *testing.T) {
	tpl := opaqueTemplate(t, 10, 10)
	for _, p := range []Placement{
		{}, // scale 0
		{Scale: math.NaN()},
		{Scale: math.Inf(1)},
		{Scale: 5e-324},
		{Scale: 1, Rotation: math.Inf(-1)},
		{Scale: 1, Offset: Offset{math.NaN(), 1e308}},
	} {
		out := Render(quadrants(8, 8), tpl, p)
		if out.Bounds() != image.Rect(0, 0, 10, 10) {
			t.Errorf("%+v: output %v", p, out.Bounds())
		}
	}
	if out := Render(image.NewNRGBA(image.Rect(0, 0, 0, 0)), tpl, DefaultPlacement()); count(out, empty) != 100 {
		t.Error("an empty photo should render a transparent print file")
	}
}

func TestRenderHonoursPhotoAlphaAndSubImages(t *testing.T) {
	photo := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	for i := range 16 {
		photo.SetNRGBA(i%4, i/4, color.NRGBA{200, 100, 50, 128})
	}
	out := Render(photo, opaqueTemplate(t, 4, 4), DefaultPlacement())
	assertPixel(t, out, 1, 1, color.NRGBA{200, 100, 50, 128})

	// A sub-image whose bounds do not start at the origin.
	big := quadrants(40, 40)
	sub := big.SubImage(image.Rect(20, 0, 40, 20)) // entirely green
	out = Render(sub, opaqueTemplate(t, 10, 10), DefaultPlacement())
	if n := count(out, green); n != 100 {
		t.Errorf("%d green pixels from an all-green sub-image, want 100", n)
	}
}

func TestRenderSamplesEveryImageTypeAlike(t *testing.T) {
	// The sampler has fast paths; each must agree with the generic At path.
	src := quadrants(16, 12)
	ycbcr := image.NewYCbCr(src.Bounds(), image.YCbCrSubsampleRatio444)
	gray := image.NewGray(src.Bounds())
	rgba := image.NewRGBA(src.Bounds())
	for y := range 12 {
		for x := range 16 {
			c := src.NRGBAAt(x, y)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			ycbcr.Y[ycbcr.YOffset(x, y)], ycbcr.Cb[ycbcr.COffset(x, y)], ycbcr.Cr[ycbcr.COffset(x, y)] = yy, cb, cr
			gray.Set(x, y, c)
			rgba.Set(x, y, c)
		}
	}
	tpl := opaqueTemplate(t, 9, 13)
	p := Placement{Scale: 1.4, Rotation: 21}
	for _, img := range []image.Image{ycbcr, gray, rgba} {
		fast := Render(img, tpl, p)
		slow := Render(onlyAt{img}, tpl, p)
		for y := range 13 {
			for x := range 9 {
				if a, b := fast.NRGBAAt(x, y), slow.NRGBAAt(x, y); !near(a, b, 1) {
					t.Fatalf("%T pixel (%d, %d): fast %v, generic %v", img, x, y, a, b)
				}
			}
		}
	}
}

// onlyAt hides an image's type so that Render uses the generic path.
type onlyAt struct{ image.Image }

func count(img *image.NRGBA, c color.NRGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if img.NRGBAAt(x, y) == c {
				n++
			}
		}
	}
	return n
}

func near(a, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) bool { return int(x)-int(y) <= tol && int(y)-int(x) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B) && d(a.A, b.A)
}
