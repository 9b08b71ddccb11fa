package printfile

import (
	"image"
	"runtime"
	"sync"
)

// Render draws photo onto the template as the placement says and returns
// the print file's pixels: exactly the template's size, transparent in its
// cut-outs and wherever the photo does not reach, the photo elsewhere with
// its alpha multiplied by the template's. The package doc gives the exact
// mapping. photo is normally what Decode returned; it is sampled in place,
// never copied. p should be valid (see Placement.Validate); an invalid one
// yields a meaningless but safe image.
func Render(photo image.Image, t *Template, p Placement) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, t.w, t.h))
	upright := photo.Bounds().Size()
	if upright.X <= 0 || upright.Y <= 0 {
		return out
	}

	// Sample the stored pixels of an EXIF-oriented photo directly, folding
	// the orientation into the placement's map.
	stored, toStored := photo, affine{xx: 1, yy: 1}
	if o, ok := photo.(*orientedImage); ok {
		stored, toStored = o.src, o.toStored
	}
	size := stored.Bounds().Size()
	r := renderer{
		out:     out,
		t:       t,
		toPhoto: p.inverse(t.w, t.h, upright.X, upright.Y).then(toStored),
		photo:   samplerFor(stored),
		w:       size.X,
		h:       size.Y,
	}

	// Split rows into one band per core; each band writes only its own
	// rows of out, so no locking is needed.
	const minRowsPerBand = 64
	bands := max(1, min(runtime.GOMAXPROCS(0), t.h/minRowsPerBand))
	var wg sync.WaitGroup
	for i := range bands {
		y0, y1 := t.h*i/bands, t.h*(i+1)/bands
		wg.Go(func() { r.rows(y0, y1) })
	}
	wg.Wait()
	return out
}

type renderer struct {
	out     *image.NRGBA
	t       *Template
	toPhoto affine  // output pixel coordinates -> stored photo coordinates
	photo   sampler // the stored photo
	w, h    int     // stored photo size
}

// rows renders output rows [y0, y1).
func (r *renderer) rows(y0, y1 int) {
	w, h := float64(r.w), float64(r.h)
	for y := y0; y < y1; y++ {
		mask := r.t.alpha[y*r.t.w : (y+1)*r.t.w]
		row := r.out.Pix[y*r.out.Stride:]
		cy := float64(y) + 0.5
		for x, ta := range mask {
			if ta == 0 {
				continue // cut-out: stays transparent
			}
			u, v := r.toPhoto.apply(float64(x)+0.5, cy)
			// Written so that NaN (from a degenerate placement) is outside.
			if !(u >= 0 && u < w && v >= 0 && v < h) {
				continue
			}
			cr, cg, cb, ca := r.photo.bilinear(u-0.5, v-0.5)
			if ca == 0 {
				continue
			}
			px := row[4*x : 4*x+4 : 4*x+4]
			if ca != 0xffff { // un-premultiply for NRGBA
				cr, cg, cb = cr*0xffff/ca, cg*0xffff/ca, cb*0xffff/ca
			}
			px[0], px[1], px[2] = uint8(cr>>8), uint8(cg>>8), uint8(cb>>8)
			px[3] = uint8((ca*uint32(ta) + 0xffff/2) / 0xffff)
		}
	}
}
