package web_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/tiff"
)

// tartanPhoto is a w x h PNG of crossing coloured stripes: pleasant in a
// screenshot, and full of edges in every direction and colour, so that a
// preview placed even a pixel away from the print file shows.
func tartanPhoto(t *testing.T, w, h int) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	palette := []color.NRGBA{{11, 87, 208, 255}, {240, 180, 40, 255}, {30, 140, 90, 255}, {200, 50, 60, 255}, {245, 240, 230, 255}}
	band := func(v int) color.NRGBA {
		widths := []int{46, 14, 30, 8, 22, 12}
		cycle := 0
		for _, x := range widths {
			cycle += x
		}
		v %= cycle
		for i, x := range widths {
			if v < x {
				return palette[i%len(palette)]
			}
			v -= x
		}
		return palette[0]
	}
	for y := range h {
		for x := range w {
			a, b := band(x), band(y+17)
			// A soft diagonal light, so the photo is not flat either.
			light := 0.85 + 0.15*math.Sin(float64(x+y)/90)
			mix := func(p, q uint8) uint8 { return uint8(math.Min(255, (float64(p)+float64(q))/2*light)) }
			img.SetNRGBA(x, y, color.NRGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 255})
		}
	}
	return writePNG(t, "tartan.png", img)
}

// smallPhoto is a photo too small to print sharply on a case.
func smallPhoto(t *testing.T) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 160, 120))
	for y := range 120 {
		for x := range 160 {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y * 2), 150, 255})
		}
	}
	return writePNG(t, "small.png", img)
}

func writePNG(t *testing.T, name string, img image.Image) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return path
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return b
}

// comparePreviewWithPrintFile renders, in the page and with the
// preview's own code, the photo at the placement the page sent, at the
// template's exact size; and compares it pixel by pixel with the print
// file the agent made for the order. They must agree within bilinear
// rounding.
func comparePreviewWithPrintFile(t *testing.T, p *phone, photoPath string, placementJSON []byte, templateURL, printFileURL string) {
	t.Helper()
	photo, err := os.ReadFile(photoPath)
	if err != nil {
		t.Fatal(err)
	}
	// Both images reach the page as data: URLs: the vendor's template on
	// another origin would taint the canvas and forbid reading it back.
	dataURL := eval[string](p, fmt.Sprintf(`(async () => {
		const { renderPrintFile } = await import('casefleet/preview');
		const load = async (src) => { const img = new Image(); img.src = src; await img.decode(); return img; };
		const [photo, template] = await Promise.all([load(%q), load(%q)]);
		return renderPrintFile(photo, template, %s).toDataURL('image/png');
	})()`, "data:image/png;base64,"+base64.StdEncoding.EncodeToString(photo),
		"data:image/png;base64,"+base64.StdEncoding.EncodeToString(get(t, templateURL)), placementJSON))
	b64, ok := strings.CutPrefix(dataURL, "data:image/png;base64,")
	if !ok {
		t.Fatalf("the page gave %.40q", dataURL)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	preview, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	printFile, err := tiff.Decode(bytes.NewReader(get(t, printFileURL)))
	if err != nil {
		t.Fatalf("decode the print file: %v", err)
	}
	if preview.Bounds() != printFile.Bounds() {
		t.Fatalf("preview %v, print file %v", preview.Bounds(), printFile.Bounds())
	}
	saveScreenshot(t, "preview-at-print-size", raw)

	var total, differ, alphaDiffer, inked int
	var sum float64
	b := preview.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			a := color.NRGBAModel.Convert(preview.At(x, y)).(color.NRGBA)
			c := color.NRGBAModel.Convert(printFile.At(x, y)).(color.NRGBA)
			total++
			if (a.A == 0) != (c.A == 0) {
				alphaDiffer++
				continue
			}
			if c.A == 0 {
				continue
			}
			inked++
			d := max(absDiff(a.R, c.R), absDiff(a.G, c.G), absDiff(a.B, c.B), absDiff(a.A, c.A))
			sum += float64(d)
			if d > 16 {
				differ++
			}
		}
	}
	if inked < total/2 {
		t.Fatalf("only %d of %d print file pixels carry ink: not a placement worth comparing", inked, total)
	}
	mean := sum / float64(inked)
	t.Logf("preview vs print file: %d px, %d inked; %d differ by more than 16 (%.3f%%), %d differ in coverage; mean difference %.2f",
		total, inked, differ, 100*float64(differ)/float64(inked), alphaDiffer, mean)
	if float64(differ) > 0.005*float64(inked) || float64(alphaDiffer) > 0.001*float64(total) || mean > 2 {
		t.Errorf("the preview does not match the print file (see preview-at-print-size.png in %s)", screenshotDir(t))
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
