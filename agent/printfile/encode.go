package printfile

import (
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"

	"golang.org/x/image/tiff"
)

// Format is a print file's encoding. It is a device setting: integrators
// have sent TIFF and later PNG (chitu-protocol.md, "format uncertain").
type Format string

// The print file formats. The zero Format means TIFF, the default.
const (
	TIFF Format = "tiff"
	PNG  Format = "png"
)

// ContentType is the MIME type to serve the print file with.
func (f Format) ContentType() string {
	if f == PNG {
		return "image/png"
	}
	return "image/tiff"
}

// Ext is the file name extension, with its dot.
func (f Format) Ext() string {
	if f == PNG {
		return ".png"
	}
	return ".tif"
}

// EncodeOptions are the device settings for print files.
type EncodeOptions struct {
	Format Format // TIFF when empty
	// Rotate90 turns the image a quarter turn clockwise before encoding,
	// for printers that feed the case sideways ("rotation uncertain").
	Rotate90 bool
}

// Encode writes img as a print file. TIFF is RGBA with unassociated alpha
// (transparent = no ink), Deflate-compressed: the integrators' files were
// LZW, but golang.org/x/image/tiff can only read LZW, not write it (and
// compress/lzw is GIF's variant, not TIFF's), and Deflate is the other
// lossless compression TIFF readers support. PNG is RGBA too, compressed
// for speed.
func Encode(w io.Writer, img image.Image, opt EncodeOptions) error {
	if opt.Format == "" {
		opt.Format = TIFF
	}
	if opt.Rotate90 {
		img = rotate90(img)
	}
	var err error
	switch opt.Format {
	case TIFF:
		err = tiff.Encode(w, img, &tiff.Options{Compression: tiff.Deflate})
	case PNG:
		// BestSpeed: four times faster than the default on a photo, for
		// a file about 13% larger.
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		err = enc.Encode(w, img)
	default:
		return fmt.Errorf("printfile: unknown print file format %q", opt.Format)
	}
	if err != nil {
		return fmt.Errorf("encode %s print file: %w", opt.Format, err)
	}
	return nil
}

// rotate90 returns img turned a quarter turn clockwise: the left column
// becomes the top row.
func rotate90(img image.Image) *image.NRGBA {
	src, ok := img.(*image.NRGBA)
	if !ok {
		src = image.NewNRGBA(img.Bounds())
		draw.Draw(src, src.Rect, img, img.Bounds().Min, draw.Src)
	}
	b := src.Rect
	w, h := b.Dx(), b.Dy()
	dst := image.NewNRGBA(image.Rect(0, 0, h, w))
	for y := range h {
		row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
		for x := range w {
			// Source (x, y) lands at (h-1-y, x).
			i := dst.PixOffset(h-1-y, x)
			copy(dst.Pix[i:i+4], row[4*x:4*x+4])
		}
	}
	return dst
}
