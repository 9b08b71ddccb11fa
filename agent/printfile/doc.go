// Package printfile turns a customer's photo and placement into the print
// file a Chitu printer fetches: an image exactly the size of the product's
// print_img template, with the template's transparent areas (outside the
// case outline, the camera hole) left empty, written as TIFF or PNG.
//
// The pipeline is Decode (a hostile upload, bounded by Limits) ->
// ParsePlacement -> Render onto a Template -> Encode. Check verifies a
// finished print file, for the printer simulator and tests.
//
// # Coordinates
//
// All positions are continuous, in pixels, with the origin at the top-left
// corner, x to the right and y downwards. Pixel (i, j) covers the square
// [i, i+1) x [j, j+1); its centre is (i+½, j+½).
//
// W x H is the template's size. pw x ph is the photo's size as a person
// sees it: for a JPEG with an EXIF orientation, the size after that
// orientation is applied (browsers apply it too, so an <img>'s
// naturalWidth/naturalHeight are the same numbers), and every coordinate
// below is in that upright photo.
//
// # Placement maths (shared with the browser preview)
//
// From a Placement p:
//
//	cover = max(W/pw, H/ph)           // the scale at which the photo just covers the template
//	k     = p.Scale * cover           // template pixels per photo pixel
//	θ     = p.Rotation * π/180        // clockwise on screen, because y points down
//	c     = (W/2 + p.Offset.X*W,      // where the photo's centre lands
//	         H/2 + p.Offset.Y*H)
//	fx    = -1 if p.FlipX else 1
//	fy    = -1 if p.FlipY else 1
//
// Forward (photo point (u, v) -> template point):
//
//	T(u, v) = c + R(θ) · ( k·fx·(u − pw/2), k·fy·(v − ph/2) )
//	R(θ)    = [ cos θ  −sin θ ]
//	          [ sin θ   cos θ ]
//
// That is: centre the photo on its own centre, flip, scale, rotate about
// the centre, then move the centre to c. A canvas preview does exactly
//
//	ctx.translate(cx, cy); ctx.rotate(θ); ctx.scale(k*fx, k*fy);
//	ctx.drawImage(img, -pw/2, -ph/2);
//
// and a CSS preview an element of natural size pw x ph at left 0, top 0
// with transform-origin 0 0 and
//
//	transform: translate(cx px, cy px) rotate(θ rad) scale(k*fx, k*fy) translate(-pw/2 px, -ph/2 px)
//
// Scale 1 with no rotation (or a multiple of 180°) covers the template
// completely: the scaled photo is at least W x H and centred. The cover
// scale is taken from the unrotated photo, so at other angles the corners
// may show through; the customer zooms in to fill them.
//
// Inverse (what Render does): output pixel (X, Y) samples the photo at
//
//	d      = (X + ½ − cx,  Y + ½ − cy)
//	(u, v) = ( pw/2 + fx·( d.x·cos θ + d.y·sin θ)/k,
//	           ph/2 + fy·(−d.x·sin θ + d.y·cos θ)/k )
//
// (Placement.PhotoPoint computes exactly this.) Then:
//
//   - where the template's alpha at (X, Y) is 0, the output is transparent
//     (0, 0, 0, 0): cut-outs stay empty whatever the photo holds;
//   - else, if 0 ≤ u < pw and 0 ≤ v < ph, the output is the photo sampled
//     bilinearly at (u − ½, v − ½) in pixel-index terms (the four nearest
//     pixel centres, indices clamped to the photo's edge), with its alpha
//     multiplied by the template's alpha / 255;
//   - else (the photo does not reach this pixel) the output is transparent.
//     Transparent rather than white because a UV printer may lay down white
//     ink for white pixels, while transparent means "print nothing": the
//     customer sees the bare case, as the preview shows it.
//
// Rotations that are whole multiples of 90° use exact sines and cosines, so
// such placements map pixel centres onto pixel centres without rounding
// drift.
//
// # Memory
//
// Decode holds the encoded upload (at most Limits.MaxBytes) and the
// decoded photo; nothing else scales with the photo. Render samples the
// decoded photo in place (no rotated, flipped or converted copies, EXIF
// orientation included) and writes straight into the W x H output, rows
// split across GOMAXPROCS goroutines. A decoded photo costs about 1.5-4
// bytes per pixel (JPEG 4:2:0 to RGBA PNG), 8 for 16-bit PNGs, and a
// progressive JPEG needs about 4 bytes per pixel and component more while
// it decodes: callers should decode one upload at a time.
package printfile
