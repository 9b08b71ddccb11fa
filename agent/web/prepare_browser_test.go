package web_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"casefleet/agent/agenttest"
	"casefleet/agent/config"
	"casefleet/agent/printfile"
)

// The phone prepares the photo before the upload (static/prepare.js): it
// sends only the part that lands on the case, at about one pixel per
// template pixel. These tests order through the real page and check that
// the agent's print file from the prepared upload is the one Go renders
// from the whole photo with the customer's placement.

var measurePrepare = flag.Bool("measure-prepare", false, "measure bytes and PSNR of prepared uploads at several settings (TestPrepareSettings)")

// minPSNR is how close a print file from a prepared upload must be to the
// one from the whole photo, over the template's printable pixels. A JPEG
// at quality 92 of the print file itself scores about 40-42 dB on this
// photo; 38 dB leaves room for resampling at angles where the prepared
// pixels cannot sit on the template's. Nobody tells such prints apart.
const minPSNR = 38.0

// photoLike is a w x h photo as a camera makes one: smooth light and
// colour, some hard edges, and sensor noise (sigma levels), which is what
// makes a real 12-MP JPEG about 3 MB.
func photoLike(w, h int, sigma float64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(7, 8))
	// Separable waves, worked out once per column and row.
	cols, rows := make([][3]float64, w), make([][3]float64, h)
	for x := range w {
		fx := float64(x) / float64(w)
		cols[x] = [3]float64{90 * math.Sin(3.1*fx), 80 * math.Cos(2.3*fx+0.4), 70 * math.Sin(4.7*fx*fx)}
	}
	for y := range h {
		fy := float64(y) / float64(h)
		rows[y] = [3]float64{0.6 + 0.4*math.Cos(1.3*fy), 0.7 + 0.3*math.Sin(2.9*fy), 0.5 + 0.5*math.Cos(2*fy)}
	}
	type disc struct{ x, y, r2 float64 }
	var discs []disc
	for i := range 4 {
		r := float64(h) * (0.08 + 0.03*float64(i))
		discs = append(discs, disc{float64(w) * (0.2 + 0.2*float64(i)), float64(h) * (0.3 + 0.15*float64(i%3)), r * r})
	}
	clamp := func(v float64) uint8 { return uint8(max(0, min(255, v))) }
	for y := range h {
		for x := range w {
			c, r := cols[x], rows[y]
			v := [3]float64{120 + c[0]*r[0], 115 + c[1]*r[1], 125 + c[2]*r[2]}
			for i, d := range discs {
				if dx, dy := float64(x)-d.x, float64(y)-d.y; dx*dx+dy*dy < d.r2 {
					v = [3]float64{230 - 45*float64(i), 60 + 40*float64(i), 50 + 35*float64(i)}
				}
			}
			n := rng.NormFloat64() * sigma
			o := img.PixOffset(x, y)
			for ch := range 3 {
				img.Pix[o+ch] = clamp(v[ch] + n + rng.NormFloat64()*sigma/2)
			}
			img.Pix[o+3] = 255
		}
	}
	return img
}

// writeJPEG writes img as a JPEG at quality, with an EXIF orientation
// when orientation is not 0, and returns its path and bytes.
func writeJPEG(t *testing.T, name string, img image.Image, quality, orientation int) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if orientation != 0 {
		b = withOrientation(b, uint16(orientation))
	}
	return writeFile(t, name, b), b
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// withOrientation puts an EXIF segment holding only the orientation tag
// right after a JPEG's start-of-image marker, as a phone camera does.
func withOrientation(jpg []byte, o uint16) []byte {
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08")  // big-endian TIFF header, first IFD at 8
	tiff = binary.BigEndian.AppendUint16(tiff, 1) // one entry:
	tiff = binary.BigEndian.AppendUint16(tiff, 0x0112)
	tiff = binary.BigEndian.AppendUint16(tiff, 3) // SHORT
	tiff = binary.BigEndian.AppendUint32(tiff, 1)
	tiff = binary.BigEndian.AppendUint16(tiff, o)
	tiff = append(tiff, 0, 0)                     // value padding
	tiff = binary.BigEndian.AppendUint32(tiff, 0) // no next IFD
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := binary.BigEndian.AppendUint16([]byte{0xFF, 0xE1}, uint16(len(seg)+2))
	app1 = append(app1, seg...)
	return append(append(append([]byte{}, jpg[:2]...), app1...), jpg[2:]...)
}

// printTemplate is the print template of the agent's product 101, as the
// image (for its alpha) and as printfile's Template.
func printTemplate(t *testing.T, a *agenttest.Agent) (image.Image, *printfile.Template) {
	t.Helper()
	var cat struct {
		Brands []struct {
			Models []struct{ ProductID, PrintImg string }
		}
	}
	resp, err := http.Get(a.API() + "/products")
	if err != nil {
		t.Fatal(err)
	}
	agenttest.MustJSON(t, resp, &cat)
	for _, b := range cat.Brands {
		for _, m := range b.Models {
			if m.ProductID != "101" {
				continue
			}
			img, err := png.Decode(bytes.NewReader(get(t, m.PrintImg)))
			if err != nil {
				t.Fatalf("print template: %v", err)
			}
			tpl, err := printfile.NewTemplate(img)
			if err != nil {
				t.Fatal(err)
			}
			return img, tpl
		}
	}
	t.Fatal("no product 101")
	return nil, nil
}

// psnr compares two print files over the template's printable pixels,
// alpha included (a pixel printed in one and blank in the other counts
// fully): in dB, +Inf when they are the same.
func psnr(a, b image.Image, tpl image.Image) float64 {
	var sum float64
	n := 0
	bounds := tpl.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			if _, _, _, ta := tpl.At(x, y).RGBA(); ta != 0xffff {
				continue
			}
			p := color.NRGBAModel.Convert(a.At(x, y)).(color.NRGBA)
			q := color.NRGBAModel.Convert(b.At(x, y)).(color.NRGBA)
			if p.A == 0 && q.A == 0 {
				n += 4
				continue
			}
			for _, d := range []int{int(p.R) - int(q.R), int(p.G) - int(q.G), int(p.B) - int(q.B), int(p.A) - int(q.A)} {
				sum += float64(d * d)
			}
			n += 4
		}
	}
	if sum == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sum/float64(n)))
}

func toPrintfile(pl placement) printfile.Placement {
	return printfile.Placement{Scale: pl.Scale, Rotation: pl.Rotation, Offset: printfile.Offset{X: pl.Offset.X, Y: pl.Offset.Y}, FlipX: pl.FlipX, FlipY: pl.FlipY}
}

// upload is what went up for one order, as the page's XMLHttpRequest
// sent it, and what preparing it cost.
type upload struct {
	Bytes     int     `json:"bytes"`
	Type      string  `json:"type"`
	Placement string  `json:"placement"`
	PrepareMS float64 `json:"prepareMs"`
}

// watchUploads records in the page what each order sends (once per page).
func watchUploads(p *phone) {
	p.t.Helper()
	eval[bool](p, `(() => {
		if (window.__casefleetUploads) return true;
		window.__casefleetUploads = [];
		const send = XMLHttpRequest.prototype.send;
		XMLHttpRequest.prototype.send = function (body) {
			if (body instanceof FormData && body.get('image')) {
				const image = body.get('image');
				window.__casefleetUploads.push({ bytes: image.size, type: image.type, placement: body.get('placement') });
			}
			return send.call(this, body);
		};
		return true;
	})()`)
}

// designWith opens the kiosk's page (on the phone models, or on the
// design the phone last chose one for), designs an iPhone 15 case and
// chooses the photo at path.
func designWith(p *phone, fd *frontDoor, path string) {
	p.t.Helper()
	p.do(chromedp.Navigate(fd.editorURL("CT0700026", "mall-3f")))
	designHere(p, path)
}

// designHere goes on from the phone models (or the design) the page
// shows, as designWith does.
func designHere(p *phone, path string) {
	p.t.Helper()
	p.waitFor("the phone models or the design", `!document.getElementById('v-pick').hidden || !document.getElementById('v-design').hidden`, 20*time.Second)
	if eval[bool](p, `!document.getElementById('v-pick').hidden`) {
		p.click(`#models button[data-product="101"]`)
		p.view("design", 10*time.Second)
	}
	eval[bool](p, `import('casefleet/editor').then((m) => { window.__casefleetEditor = m; return true; })`)
	p.do(chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{path}))
	p.waitFor("the photo is on the case", `document.getElementById('preview').classList.contains('has-photo') && window.__casefleetEditor.snapshot().photoBlob?.name === `+jsString(filepath.Base(path)), 30*time.Second)
}

// orderDesign orders the phone's design as it stands and returns what
// went up, the placement the customer saw, and the agent's print file.
// The machine pays and prints by itself; the phone goes back to the
// phone models.
func orderDesign(t *testing.T, p *phone, sim *agenttest.Sim, code string) (upload, placement, image.Image) {
	t.Helper()
	pl := currentPlacement(p)
	before := len(sim.Orders(t, code))
	watchUploads(p)
	p.click("#order-btn")
	p.view("status", 60*time.Second)
	up := eval[upload](p, `(async () => {
		const u = window.__casefleetUploads.at(-1);
		const prep = (await import('casefleet/editor')).lastPreparation();
		return { ...u, prepareMs: prep ? prep.ms : 0 };
	})()`)
	var orders []struct{ ImageURL string }
	agenttest.Eventually(t, 60*time.Second, "the order reaches the machine", func() bool {
		all := sim.Orders(t, code)
		if len(all) <= before {
			return false
		}
		orders = orders[:0]
		for _, o := range all {
			orders = append(orders, struct{ ImageURL string }{o.ImageURL})
		}
		return true
	})
	file, err := png.Decode(bytes.NewReader(get(t, orders[len(orders)-1].ImageURL)))
	if err != nil {
		t.Fatalf("the print file: %v", err)
	}
	p.waitFor("ready", `!document.getElementById('again-btn').hidden`, 60*time.Second)
	p.click("#again-btn")
	p.view("pick", 10*time.Second)
	return up, pl, file
}

// renderOriginal is the print file Go makes from the whole photo.
func renderOriginal(t *testing.T, photo []byte, tpl *printfile.Template, pl placement) image.Image {
	t.Helper()
	img, _, err := printfile.Decode(bytes.NewReader(photo), printfile.Limits{MaxBytes: 100 << 20, MaxPixels: 200_000_000, MaxSide: 20000})
	if err != nil {
		t.Fatal(err)
	}
	return printfile.Render(img, tpl, toPrintfile(pl))
}

// startPrintingKiosk is a kiosk whose machine pays and prints by itself,
// writing PNG print files (quick under the race detector), and that takes
// as many orders from one phone as a test makes.
func startPrintingKiosk(t *testing.T) (*agenttest.Sim, *agenttest.Agent, *frontDoor) {
	t.Helper()
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{"CT0700026"}})
	a := startKiosk(t, sim, "CT0700026", "Mall 3F, east escalator", "mall-3f", func(c *config.Config) {
		c.Chitu.PrintFormat = "png"
		c.Session.OrdersPerHour = 100
	})
	return sim, a, newFrontDoor(t, a)
}

// TestPreparedUploadPrintsLikeTheWholePhoto orders a 12-MP, 3 MB camera
// photo at several placements, made with the tools as a customer makes
// them: far fewer bytes go up, and the print file is the one the whole
// photo makes.
func TestPreparedUploadPrintsLikeTheWholePhoto(t *testing.T) {
	browser(t) // skip (or fail on CI) before starting anything without Chromium
	sim, a, fd := startPrintingKiosk(t)
	tplImg, tpl := printTemplate(t, a)
	_, photo := writeJPEG(t, "camera.jpg", photoLike(4000, 3000, 4), 92, 0)
	t.Logf("the photo: 4000x3000, %d bytes", len(photo))

	p := newPhone(t, "pia", "en")
	for _, tc := range []struct {
		name    string
		arrange func(p *phone)
	}{
		{"as it comes (filling the case)", func(p *phone) {}},
		{"zoomed in and moved", func(p *phone) {
			p.click(`button[data-act="zoomIn"]`)
			p.click(`button[data-act="zoomIn"]`)
			p.do(chromedp.Focus(chromedp.ID("preview")))
			p.do(chromedp.KeyEvent(kb.ArrowRight))
		}},
		{"turned 90°", func(p *phone) {
			p.click(`button[data-act="rotate"]`)
			p.click(`button[data-act="fill"]`)
		}},
		{"turned 30° and zoomed in", func(p *phone) {
			p.do(chromedp.Focus(chromedp.ID("preview")))
			for range 6 {
				p.do(chromedp.KeyEvent("]"))
			}
			for range 5 {
				p.click(`button[data-act="zoomIn"]`)
			}
		}},
		{"mirrored and moved", func(p *phone) {
			p.click(`button[data-act="flip"]`)
			p.do(chromedp.Focus(chromedp.ID("preview")))
			p.do(chromedp.KeyEvent(kb.ArrowUp))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.t = t
			designWith(p, fd, writeFile(t, "camera.jpg", photo))
			tc.arrange(p)
			up, pl, got := orderDesign(t, p, sim, "CT0700026")
			want := renderOriginal(t, photo, tpl, pl)
			db := psnr(got, want, tplImg)
			t.Logf("placement %+v: %d bytes went up (%s, %.1f%% of the photo), prepared in %.0f ms; print file PSNR %.1f dB",
				pl, up.Bytes, up.Type, 100*float64(up.Bytes)/float64(len(photo)), up.PrepareMS, db)
			if up.Bytes > len(photo)/4 {
				t.Errorf("%d bytes went up, more than a quarter of the photo's %d", up.Bytes, len(photo))
			}
			if db < minPSNR {
				dumpPrintFiles(t, got, want)
				t.Errorf("the print file from the prepared upload differs from the whole photo's: PSNR %.1f dB, want at least %.0f", db, minPSNR)
			}
		})
	}
}

// dumpPrintFiles leaves both print files of a failed comparison with the
// run's screenshots, named after the test.
func dumpPrintFiles(t *testing.T, prepared, whole image.Image) {
	t.Helper()
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	saveScreenshot(t, name+"-prepared", encodePNGBytes(t, prepared))
	saveScreenshot(t, name+"-whole-photo", encodePNGBytes(t, whole))
}

func encodePNGBytes(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPreparedUploadOfEveryKindOfPhoto orders photos that preparing must
// not get wrong: camera photos turned by their EXIF orientation, a PNG
// with transparency (which must stay transparent, not print black), a
// WebP, a panorama wider than a canvas may be, a photo one pixel wide,
// and a photo moved right off the case.
func TestPreparedUploadOfEveryKindOfPhoto(t *testing.T) {
	browser(t) // skip (or fail on CI) before starting anything without Chromium
	sim, a, fd := startPrintingKiosk(t)
	tplImg, tpl := printTemplate(t, a)
	p := newPhone(t, "kit", "en")

	camera := photoLike(1600, 1200, 3)
	// A round photo sticker on a transparent ground, its rim half
	// see-through: large enough that its crop is worth sending.
	transparent := image.NewNRGBA(image.Rect(0, 0, 1800, 2400))
	grain := rand.New(rand.NewPCG(3, 4))
	for y := range 2400 {
		for x := range 1800 {
			d := math.Hypot(float64(x-900), float64(y-1200))
			alpha := uint8(max(0, min(255, (880-d)*8)))
			n := grain.IntN(9)
			transparent.SetNRGBA(x, y, color.NRGBA{uint8(x/8 + n), uint8(y/10 + n), uint8(170 + n), alpha})
		}
	}
	panorama := image.NewRGBA(image.Rect(0, 0, 16000, 1000))
	for y := range 1000 {
		for x := range 16000 {
			o := panorama.PixOffset(x, y)
			copy(panorama.Pix[o:o+4], []uint8{uint8(x / 63), uint8(y / 4), uint8(128 + 100*math.Sin(float64(x)/300)), 255})
		}
	}
	thin := image.NewNRGBA(image.Rect(0, 0, 1, 4000))
	for y := range 4000 {
		thin.SetNRGBA(0, y, color.NRGBA{uint8(y / 16), 90, uint8(255 - y/16), 255})
	}

	// data is the file chosen; seen, if set, the photo as the browser
	// shows it, for Go's render to compare with.
	type photoFile struct {
		name       string
		data, seen []byte
	}
	jpegOf := func(name string, img image.Image, orientation int) photoFile {
		_, b := writeJPEG(t, name, img, 92, orientation)
		return photoFile{name: name, data: b}
	}
	pngOf := func(name string, img image.Image) photoFile {
		return photoFile{name: name, data: encodePNGBytes(t, img)}
	}
	webpData, webpSeen := webpFromPage(t, p, fd)
	webp := photoFile{"photo.webp", webpData, webpSeen}

	for _, tc := range []struct {
		name     string
		photo    photoFile
		arrange  func(p *phone)
		wantType string // of the upload, when it matters
		blank    bool   // nothing of the photo lands on the case
	}{
		{name: "EXIF orientation 6 (turned right)", photo: jpegOf("six.jpg", camera, 6), wantType: "image/jpeg"},
		{name: "EXIF orientation 8 (turned left), zoomed", photo: jpegOf("eight.jpg", camera, 8), wantType: "image/jpeg", arrange: func(p *phone) {
			p.click(`button[data-act="zoomIn"]`)
		}},
		{name: "PNG with transparency", photo: pngOf("sticker.png", transparent), wantType: "image/png", arrange: func(p *phone) {
			p.click(`button[data-act="zoomIn"]`) // the crop must keep the see-through rim
		}},
		{name: "WebP", photo: webp},
		{name: "panorama 16000x1000", photo: jpegOf("panorama.jpg", panorama, 0)},
		{name: "one pixel wide", photo: pngOf("thin.png", thin)},
		{name: "moved off the case", photo: jpegOf("gone.jpg", camera, 0), blank: true, arrange: func(p *phone) {
			p.click(`button[data-act="zoomOut"]`)
			p.do(chromedp.Focus(chromedp.ID("preview")))
			for range 45 {
				p.do(chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(chromedp.ModifierShift)))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.t = t
			path := writeFile(t, tc.photo.name, tc.photo.data)
			designWith(p, fd, path)
			if tc.arrange != nil {
				tc.arrange(p)
			}
			up, pl, got := orderDesign(t, p, sim, "CT0700026")
			seen := tc.photo.data
			if tc.photo.seen != nil {
				seen = tc.photo.seen
			}
			want := renderOriginal(t, seen, tpl, pl)
			db := psnr(got, want, tplImg)
			t.Logf("%d bytes, %d went up (%s), placement %+v; PSNR %.1f dB", len(tc.photo.data), up.Bytes, up.Type, pl, db)
			if tc.wantType != "" && up.Type != tc.wantType {
				t.Errorf("the upload is %s, want %s", up.Type, tc.wantType)
			}
			if up.Bytes >= len(tc.photo.data) && len(tc.photo.data) > 100_000 {
				t.Errorf("%d bytes went up for a photo of %d", up.Bytes, len(tc.photo.data))
			}
			if db < minPSNR {
				dumpPrintFiles(t, got, want)
				t.Errorf("the print file differs from the whole photo's: PSNR %.1f dB, want at least %.0f", db, minPSNR)
			}
			if tc.blank {
				if inked := inkedPixels(got); inked != 0 {
					t.Errorf("a photo off the case printed %d pixels", inked)
				}
				if up.Bytes > 1000 {
					t.Errorf("%d bytes went up for a photo off the case", up.Bytes)
				}
			} else if inked := inkedPixels(got); inked == 0 {
				t.Error("the print file is blank")
			}
		})
	}
}

func inkedPixels(img image.Image) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if _, _, _, a := img.At(x, y).RGBA(); a != 0 {
				n++
			}
		}
	}
	return n
}

// webpFromPage is a 1500x1000 photo as a lossy WebP, written by the
// browser (Go has no WebP encoder): a photo a customer saved from a web
// page. With it comes a PNG of the WebP as the browser decodes it: the
// photo as the customer sees it. (Go's WebP decoder reads lossy WebP
// colours as full range, golang/go#40173, so its own print of the WebP is
// washed out; the prepared upload, decoded by the browser, is not.)
func webpFromPage(t *testing.T, p *phone, fd *frontDoor) (webp, decoded []byte) {
	t.Helper()
	p.do(chromedp.Navigate(fd.editorURL("CT0700026", "mall-3f")))
	p.waitFor("the page", `document.getElementById('v-loading').hidden`, 20*time.Second)
	urls := eval[[]string](p, `(async () => {
		const c = Object.assign(document.createElement('canvas'), { width: 1500, height: 1000 });
		const ctx = c.getContext('2d');
		const g = ctx.createLinearGradient(0, 0, 1500, 1000);
		g.addColorStop(0, '#1b4f8a'); g.addColorStop(0.5, '#e8b04a'); g.addColorStop(1, '#2f7d4f');
		ctx.fillStyle = g;
		ctx.fillRect(0, 0, 1500, 1000);
		ctx.fillStyle = '#c0392b';
		for (let i = 0; i < 12; i++) { ctx.beginPath(); ctx.arc(100 + i * 120, 300 + (i % 4) * 150, 60, 0, 7); ctx.fill(); }
		const blob = (canvas, type, q) => new Promise((done) => canvas.toBlob(done, type, q));
		const dataURL = (b) => new Promise((done) => { const r = new FileReader(); r.onload = () => done(r.result); r.readAsDataURL(b); });
		const webp = await blob(c, 'image/webp', 0.9);
		const img = new Image();
		img.src = URL.createObjectURL(webp);
		await img.decode();
		const d = Object.assign(document.createElement('canvas'), { width: 1500, height: 1000 });
		d.getContext('2d').drawImage(img, 0, 0);
		return [await dataURL(webp), await dataURL(await blob(d, 'image/png'))];
	})()`)
	decode := func(url, prefix string) []byte {
		b64, ok := strings.CutPrefix(url, prefix)
		if !ok {
			t.Fatalf("the browser wrote %.40q, want %s", url, prefix)
		}
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return decode(urls[0], "data:image/webp;base64,"), decode(urls[1], "data:image/png;base64,")
}

// TestPrepareSettings measures, for the 12-MP photo at several
// placements, what each setting of prepare.js costs in bytes and gives in
// PSNR against the whole photo's print file (Go renders both, as the
// agent does). Run with -measure-prepare; the settings in prepare.js come
// from it.
func TestPrepareSettings(t *testing.T) {
	if !*measurePrepare {
		t.Skip("a measurement: run with -measure-prepare")
	}
	browser(t)
	_, a, fd := startPrintingKiosk(t)
	tplImg, tpl := printTemplate(t, a)
	path, photo := writeJPEG(t, "camera.jpg", photoLike(4000, 3000, 4), 92, 0)
	orig, _, err := printfile.Decode(bytes.NewReader(photo), printfile.Limits{MaxPixels: 200_000_000})
	if err != nil {
		t.Fatal(err)
	}
	p := newPhone(t, "mo", "en")
	designWith(p, fd, path)

	placements := map[string]string{
		"fill":      `{"scale":1,"rotation":0,"offset":{"x":0,"y":0},"flipX":false,"flipY":false}`,
		"zoom+move": `{"scale":1.21,"rotation":0,"offset":{"x":0.01,"y":0},"flipX":false,"flipY":false}`,
		"rot90":     `{"scale":1.72,"rotation":90,"offset":{"x":0,"y":0},"flipX":false,"flipY":false}`,
		"rot30":     `{"scale":1.61,"rotation":30,"offset":{"x":0,"y":0},"flipX":false,"flipY":false}`,
		"flip+move": `{"scale":1,"rotation":0,"offset":{"x":0,"y":-0.01},"flipX":true,"flipY":false}`,
		"zoom x2.5": `{"scale":2.5,"rotation":0,"offset":{"x":0.1,"y":0.1},"flipX":false,"flipY":false}`,
	}
	for _, set := range []string{
		`{"density":1,"quality":0.92,"smoothing":"low"}`,
		`{"density":1,"quality":0.9,"smoothing":"low"}`,
	} {
		for name, plJSON := range placements {
			var pl placement
			if err := json.Unmarshal([]byte(plJSON), &pl); err != nil {
				t.Fatal(err)
			}
			res := eval[struct {
				Data      string
				Placement placement
				MS        float64
			}](p, `(async () => {
				const { prepare } = await import('casefleet/prepare');
				const s = (await import('casefleet/editor')).snapshot();
				const r = await prepare({ photo: s.photo, blob: s.photoBlob, name: s.photoName, template: s.template, placement: `+plJSON+` }, `+set+`);
				const data = await new Promise((done) => { const f = new FileReader(); f.onload = () => done(f.result); f.readAsDataURL(r.blob); });
				return { data, placement: r.placement, ms: r.ms };
			})()`)
			_, b64, _ := strings.Cut(res.Data, ",")
			up, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatal(err)
			}
			small, _, err := printfile.Decode(bytes.NewReader(up), printfile.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			got := printfile.Render(small, tpl, toPrintfile(res.Placement))
			want := printfile.Render(orig, tpl, toPrintfile(pl))
			t.Logf("%s %-10s %8d bytes %5dx%-5d %5.1f dB %4.0f ms", set, name, len(up), small.Bounds().Dx(), small.Bounds().Dy(), psnr(got, want, tplImg), res.MS)
		}
	}
	// The floor: the whole photo's print file itself through JPEG once.
	want := printfile.Render(orig, tpl, printfile.DefaultPlacement())
	var buf bytes.Buffer
	jpeg.Encode(&buf, want, &jpeg.Options{Quality: 92})
	n := buf.Len()
	again, _ := jpeg.Decode(&buf)
	t.Logf("the print file itself as a JPEG at quality 92: %d bytes, %.1f dB", n, psnr(again, want, tplImg))
}
