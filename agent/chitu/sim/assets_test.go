package sim

import (
	"bytes"
	"image"
	"image/png"
	"io"
	"net/http"
	"testing"
)

func fetchPNG(t *testing.T, url string) ([]byte, *image.NRGBA) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET %s: HTTP %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	nrgba, isNRGBA := img.(*image.NRGBA)
	if !isNRGBA {
		t.Fatalf("%s decodes as %T, want *image.NRGBA", url, img)
	}
	return data, nrgba
}

// Every print template is real-size, opaque on the case, and transparent
// outside the outline and in the camera hole.
func TestPrintTemplateShapes(t *testing.T) {
	for _, b := range catalogue {
		for _, p := range b.models {
			t.Run(p.nameEN, func(t *testing.T) {
				checkTemplateShape(t, p, drawTemplate(p, p.printSize(), templateFill))
			})
		}
	}
}

// The template the sim serves is that drawing, as an NRGBA PNG.
func TestPrintTemplateIsServed(t *testing.T) {
	ts := newTestSim(t)
	p, _ := productByID("102")
	_, img := fetchPNG(t, ts.url+"/assets/print/102.png")
	checkTemplateShape(t, p, img)
	if !bytes.Equal(img.Pix, drawTemplate(p, p.printSize(), templateFill).Pix) {
		t.Fatal("served template differs from the drawing")
	}
}

func checkTemplateShape(t *testing.T, p phoneModel, img *image.NRGBA) {
	t.Helper()
	size := img.Bounds().Size()
	if size != p.printSize() {
		t.Fatalf("template %v, want %v", size, p.printSize())
	}
	px := func(xmm, ymm float64) (int, int) {
		return int(xmm * float64(size.X) / p.widthMM), int(ymm * float64(size.Y) / p.heightMM)
	}
	cam := p.camera
	camX, camY := px(cam.x+cam.w/2, cam.y+cam.h/2)
	rightOfCam, _ := px(cam.x+cam.w+2, 0)
	_, belowCam := px(0, cam.y+cam.h+2)
	checks := []struct {
		what string
		x, y int
		want uint8
	}{
		{"top-left corner, outside the rounded outline", 0, 0, 0},
		{"top-right corner", size.X - 1, 0, 0},
		{"bottom-left corner", 0, size.Y - 1, 0},
		{"bottom-right corner", size.X - 1, size.Y - 1, 0},
		{"centre of the case", size.X / 2, size.Y / 2, 255},
		{"middle of the left edge", 0, size.Y / 2, 255},
		{"middle of the bottom edge", size.X / 2, size.Y - 1, 255},
		{"centre of the camera hole", camX, camY, 0},
		{"right of the camera hole", rightOfCam, camY, 255},
		{"below the camera hole", camX, belowCam, 255},
	}
	for _, c := range checks {
		if got := img.NRGBAAt(c.x, c.y).A; got != c.want {
			t.Errorf("%s (%d,%d): alpha %d, want %d", c.what, c.x, c.y, got, c.want)
		}
	}
	for i := 3; i < len(img.Pix); i += 4 {
		if a := img.Pix[i]; a != 0 && a != 255 {
			t.Fatalf("alpha %d: edges must be hard", a)
		}
	}
}

func TestTemplateSizeAt300DPI(t *testing.T) {
	p, _ := productByID("101") // 71.5 x 147.5 mm
	if got := p.printSize(); got != image.Pt(844, 1742) {
		t.Fatalf("print size %v, want 844x1742", got)
	}
}

func TestTemplatesAreDeterministic(t *testing.T) {
	p, _ := productByID("201")
	if !bytes.Equal(drawTemplate(p, p.printSize(), templateFill).Pix, drawTemplate(p, p.printSize(), templateFill).Pix) {
		t.Fatal("two drawings differ")
	}
	a, _ := fetchPNG(t, newTestSim(t).url+"/assets/show/201.png")
	b, _ := fetchPNG(t, newTestSim(t).url+"/assets/show/201.png")
	if !bytes.Equal(a, b) {
		t.Fatal("two sims served different pictures")
	}
}

func TestShowImages(t *testing.T) {
	ts := newTestSim(t)
	_, img := fetchPNG(t, ts.url+"/assets/show/101.png")
	if img.Bounds().Dy() != showHeightPx || img.Bounds().Dx() >= showHeightPx {
		t.Fatalf("preview %v", img.Bounds())
	}
	if img.NRGBAAt(img.Bounds().Dx()/2, img.Bounds().Dy()/2).A != 255 {
		t.Fatal("preview centre not opaque")
	}
}

func TestUnknownAssets(t *testing.T) {
	ts := newTestSim(t)
	for _, path := range []string{"/assets/print/999.png", "/assets/print/101.jpg", "/assets/other/101.png", "/assets/print/..%2f101.png"} {
		resp, err := http.Get(ts.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: HTTP %d, want 404", path, resp.StatusCode)
		}
	}
}

func BenchmarkDrawPrintTemplate(b *testing.B) {
	p, _ := productByID("102")
	for b.Loop() {
		drawTemplate(p, p.printSize(), templateFill)
	}
}
