package printfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// ErrInvalidPlacement wraps every error from ParsePlacement and
// Placement.Validate (400).
var ErrInvalidPlacement = errors.New("printfile: invalid placement")

// Accepted placement ranges: wide enough for any real design, narrow
// enough that no value makes the maths degenerate.
const (
	maxScale          = 20
	maxOffset         = 5
	maxPlacementBytes = 4 << 10
)

// Placement is how the customer fitted the photo on the template. The
// package doc gives the exact maths.
type Placement struct {
	// Scale 1 makes the photo just cover the template ("fill"); 2 zooms in
	// twofold. In (0, 20].
	Scale float64 `json:"scale"`
	// Rotation in degrees, clockwise, about the photo's centre. Any finite
	// value; whole turns change nothing.
	Rotation float64 `json:"rotation"`
	// Offset of the photo's centre from the template's centre, as a
	// fraction of the template's width (X) and height (Y). Each in [-5, 5].
	Offset Offset `json:"offset"`
	// FlipX mirrors the photo left-right, FlipY top-bottom, before rotation.
	FlipX bool `json:"flipX"`
	FlipY bool `json:"flipY"`
}

// Offset is a Placement's offset, in template widths and heights.
type Offset struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// DefaultPlacement is the photo centred, filling the template.
func DefaultPlacement() Placement { return Placement{Scale: 1} }

// ParsePlacement reads a placement sent by the editor, as JSON such as
// {"scale":1.4,"rotation":90,"offset":{"x":0.1,"y":-0.05},"flipX":true}.
// Empty input is DefaultPlacement, and so is any field left out (scale
// included). Unknown fields, trailing data and out-of-range values are
// rejected with an error wrapping ErrInvalidPlacement.
func ParsePlacement(b []byte) (Placement, error) {
	p := DefaultPlacement()
	if len(bytes.TrimSpace(b)) == 0 {
		return p, nil
	}
	if len(b) > maxPlacementBytes {
		return Placement{}, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidPlacement, len(b), maxPlacementBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Placement{}, fmt.Errorf("%w: %w", ErrInvalidPlacement, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Placement{}, fmt.Errorf("%w: data after the JSON object", ErrInvalidPlacement)
	}
	if err := p.Validate(); err != nil {
		return Placement{}, err
	}
	return p, nil
}

// Validate reports whether every field is finite and in range. Render
// stays safe with any placement, but only a valid one is meaningful.
func (p Placement) Validate() error {
	finite := func(name string, v float64) error {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: %s is %v", ErrInvalidPlacement, name, v)
		}
		return nil
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"scale", p.Scale}, {"rotation", p.Rotation}, {"offset.x", p.Offset.X}, {"offset.y", p.Offset.Y}} {
		if err := finite(f.name, f.v); err != nil {
			return err
		}
	}
	if p.Scale <= 0 || p.Scale > maxScale {
		return fmt.Errorf("%w: scale %v is not in (0, %d]", ErrInvalidPlacement, p.Scale, maxScale)
	}
	if math.Abs(p.Offset.X) > maxOffset || math.Abs(p.Offset.Y) > maxOffset {
		return fmt.Errorf("%w: offset (%v, %v) is not within ±%d", ErrInvalidPlacement, p.Offset.X, p.Offset.Y, maxOffset)
	}
	return nil
}

// PhotoPoint returns the photo point (u, v) that the template point (x, y)
// shows, for a templateW x templateH template and a photoW x photoH
// (upright) photo: the inverse mapping of the package doc. The centre of
// output pixel (X, Y) is (X+0.5, Y+0.5).
func (p Placement) PhotoPoint(templateW, templateH, photoW, photoH int, x, y float64) (u, v float64) {
	return p.inverse(templateW, templateH, photoW, photoH).apply(x, y)
}

// inverse is the affine map from template coordinates to photo
// coordinates.
func (p Placement) inverse(templateW, templateH, photoW, photoH int) affine {
	W, H := float64(templateW), float64(templateH)
	w, h := float64(photoW), float64(photoH)
	k := p.Scale * max(W/w, H/h)
	sin, cos := sincosDegrees(p.Rotation)
	fx, fy := 1.0, 1.0
	if p.FlipX {
		fx = -1
	}
	if p.FlipY {
		fy = -1
	}
	cx, cy := W/2+p.Offset.X*W, H/2+p.Offset.Y*H

	// u = w/2 + fx·( cos·(x−cx) + sin·(y−cy))/k
	// v = h/2 + fy·(−sin·(x−cx) + cos·(y−cy))/k
	m := affine{xx: fx * cos / k, xy: fx * sin / k, yx: -fy * sin / k, yy: fy * cos / k}
	m.x0 = w/2 - m.xx*cx - m.xy*cy
	m.y0 = h/2 - m.yx*cx - m.yy*cy
	return m
}

// sincosDegrees is math.Sincos of an angle in degrees, exact for whole
// multiples of 90° (where floating-point π would leave sin 180° ≈ 1e-16
// and shift pixel-aligned placements off their pixels).
func sincosDegrees(deg float64) (sin, cos float64) {
	r := math.Mod(deg, 360)
	if r < 0 {
		r += 360
	}
	switch r {
	case 0:
		return 0, 1
	case 90:
		return 1, 0
	case 180:
		return 0, -1
	case 270:
		return -1, 0
	}
	return math.Sincos(r * math.Pi / 180)
}
