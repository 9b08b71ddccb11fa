package sim

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"
)

// showHeightPx is the height of the small preview pictures (show_img).
const showHeightPx = 240

// Fill colours: the print template's printable area (any opaque colour
// would do; only alpha matters) and the preview's case.
var (
	templateFill = color.NRGBA{R: 255, G: 255, B: 255, A: 255}
	previewFill  = color.NRGBA{R: 70, G: 110, B: 160, A: 255}
)

// assetCache holds the generated pictures, each drawn once on first use.
type assetCache struct {
	mu      sync.Mutex
	entries map[string]*lazyAsset
}

type lazyAsset struct {
	once sync.Once
	png  []byte
	err  error
}

func newAssetCache() *assetCache {
	return &assetCache{entries: make(map[string]*lazyAsset)}
}

// get returns the PNG of kind "print" or "show" for p.
func (c *assetCache) get(kind string, p phoneModel) ([]byte, error) {
	key := kind + "/" + p.productID
	c.mu.Lock()
	a := c.entries[key]
	if a == nil {
		a = new(lazyAsset)
		c.entries[key] = a
	}
	c.mu.Unlock()
	a.once.Do(func() {
		var img *image.NRGBA
		if kind == "print" {
			img = drawTemplate(p, p.printSize(), templateFill)
		} else {
			scale := showHeightPx / p.heightMM
			img = drawTemplate(p, image.Pt(int(p.widthMM*scale+0.5), showHeightPx), previewFill)
		}
		var buf bytes.Buffer
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		if a.err = enc.Encode(&buf, img); a.err == nil {
			a.png = buf.Bytes()
		}
	})
	return a.png, a.err
}

// drawTemplate draws p's case at size: fill inside the rounded outline,
// transparent outside it and in the camera hole. Edges are hard (alpha 0 or
// 255) so that the template is exact and the drawing deterministic. It
// works a row at a time: a rounded rectangle covers one span of each row.
func drawTemplate(p phoneModel, size image.Point, fill color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size.X, size.Y))
	sx := float64(size.X) / p.widthMM
	sy := float64(size.Y) / p.heightMM
	scale := (sx + sy) / 2
	outline := roundedRect{0, 0, float64(size.X), float64(size.Y), p.cornerMM * scale}
	hole := roundedRect{p.camera.x * sx, p.camera.y * sy, p.camera.w * sx, p.camera.h * sy, p.camera.radius * scale}
	filled := bytes.Repeat([]byte{fill.R, fill.G, fill.B, fill.A}, size.X)
	for y := 0; y < size.Y; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*size.X]
		from, to := outline.span(float64(y)+0.5, size.X)
		copy(row[4*from:4*to], filled)
		if holeFrom, holeTo := hole.span(float64(y)+0.5, size.X); holeFrom < holeTo {
			clear(row[4*holeFrom : 4*holeTo])
		}
	}
	return img
}

// span returns the pixels [from, to) of the row whose centre line is at
// py that lie inside the rounded rectangle (pixel centres inside), clipped
// to [0, width).
func (r roundedRect) span(py float64, width int) (from, to int) {
	if py < r.y || py >= r.y+r.h {
		return 0, 0
	}
	// How far into the corners' band the row is: 0 between the corners.
	d := 0.0
	switch {
	case py < r.y+r.radius:
		d = r.y + r.radius - py
	case py > r.y+r.h-r.radius:
		d = py - (r.y + r.h - r.radius)
	}
	chord := math.Sqrt(max(r.radius*r.radius-d*d, 0))
	left := max(r.x+r.radius-chord, r.x)
	right := min(r.x+r.w-r.radius+chord, r.x+r.w)
	// Pixel x is inside when its centre x+0.5 lies in [left, right).
	from = max(int(math.Ceil(left-0.5)), 0)
	to = min(int(math.Ceil(right-0.5)), width)
	return from, max(to, from)
}

// serveAsset serves /assets/{print|show}/{product}.png.
func (s *Sim) serveAsset(w http.ResponseWriter, r *http.Request) {
	kind := r.PathValue("kind")
	id, ok := strings.CutSuffix(r.PathValue("file"), ".png")
	p, known := productByID(id)
	if !ok || !known || (kind != "print" && kind != "show") {
		http.NotFound(w, r)
		return
	}
	data, err := s.assets.get(kind, p)
	if err != nil {
		s.log.Error("draw template", "product", id, "kind", kind, "err", err)
		http.Error(w, "cannot draw template", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("ETag", fmt.Sprintf(`"%s-%s-%d"`, kind, id, len(data)))
	http.ServeContent(w, r, id+".png", time.Time{}, bytes.NewReader(data))
}

// baseURL is scheme://host of the request, under which the sim's own
// assets are reachable by whoever made it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
