package printfile

// Crop says how a phone prepared an upload from the customer's photo: it
// cut the rectangle at (X, Y) of the upright photo and scaled it by F into
// a W x H image. So point (a, b) of the prepared image is point
// (X + a/F, Y + b/F) of the photo, and the rectangle is W/F x H/F photo
// pixels. The web app's prepare.js makes such uploads; see CropPlacement.
type Crop struct {
	X, Y float64 // top-left corner of the rectangle, in photo pixels
	F    float64 // prepared pixels per photo pixel; in (0, 1] for a downscale
	W, H int     // the prepared image's size
}

// CropPlacement returns the placement that, for the prepared image c made
// from a photoW x photoH photo, means on a templateW x templateH template
// what p means for the whole photo: Render(prepared, t, CropPlacement(...))
// draws the same picture as Render(photo, t, p), wherever the rectangle
// reaches.
//
// With the package doc's names, a crop whose centre is d away from the
// photo's centre and a scale f give
//
//	k' = k/f
//	c' = c + R(θ) · (k·fx·d.x, k·fy·d.y)     // where the crop's centre lands
//	scale'  = k' / cover(W, H, c.W, c.H)
//	offset' = ((c'.x − W/2)/W, (c'.y − H/2)/H)
//
// Rotation and flips stay as they are.
func CropPlacement(p Placement, templateW, templateH, photoW, photoH int, c Crop) Placement {
	W, H := float64(templateW), float64(templateH)
	pw, ph := float64(photoW), float64(photoH)
	nw, nh := float64(c.W), float64(c.H)
	k := p.Scale * max(W/pw, H/ph)

	dx := c.X + nw/(2*c.F) - pw/2
	dy := c.Y + nh/(2*c.F) - ph/2
	if p.FlipX {
		dx = -dx
	}
	if p.FlipY {
		dy = -dy
	}
	sin, cos := sincosDegrees(p.Rotation)
	cx := W/2 + p.Offset.X*W + k*(cos*dx-sin*dy)
	cy := H/2 + p.Offset.Y*H + k*(sin*dx+cos*dy)

	q := p
	q.Scale = (k / c.F) / max(W/nw, H/nh)
	q.Offset = Offset{X: (cx - W/2) / W, Y: (cy - H/2) / H}
	return q
}
