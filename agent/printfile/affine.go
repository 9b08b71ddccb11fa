package printfile

// affine is a 2-D affine map in continuous pixel coordinates:
//
//	x' = xx·x + xy·y + x0
//	y' = yx·x + yy·y + y0
//
// Render composes the placement's inverse with the photo's EXIF
// orientation into one affine, so each output pixel costs one map, not a
// chain of copies.
type affine struct {
	xx, xy, x0 float64
	yx, yy, y0 float64
}

func (m affine) apply(x, y float64) (float64, float64) {
	return m.xx*x + m.xy*y + m.x0, m.yx*x + m.yy*y + m.y0
}

// then returns the map that applies m first and n second.
func (m affine) then(n affine) affine {
	return affine{
		xx: n.xx*m.xx + n.xy*m.yx,
		xy: n.xx*m.xy + n.xy*m.yy,
		x0: n.xx*m.x0 + n.xy*m.y0 + n.x0,
		yx: n.yx*m.xx + n.yy*m.yx,
		yy: n.yx*m.xy + n.yy*m.yy,
		y0: n.yx*m.x0 + n.yy*m.y0 + n.y0,
	}
}
