package printfile

import (
	"bytes"
	"fmt"
	"image"
	"io"

	"golang.org/x/image/tiff"
)

// Check reports whether r holds a complete, valid print file for a w x h
// template: a TIFF or PNG of w x h pixels, or h x w (rotated), no larger
// than maxBytes. The printer simulator uses it to accept or refuse a file
// as a printer would. Errors wrap the same sentinels as Decode.
func Check(r io.Reader, w, h int, maxBytes int64) error {
	if w <= 0 || h <= 0 || maxBytes <= 0 {
		return fmt.Errorf("printfile: check against %dx%d, %d bytes: nothing could pass", w, h, maxBytes)
	}
	data, err := readAtMost(r, maxBytes)
	if err != nil {
		return err
	}
	var c codec
	switch {
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		c = codec{"tiff", tiff.DecodeConfig, tiff.Decode}
	case bytes.HasPrefix(data, []byte(pngMagic)):
		c = pngCodec
	default:
		return fmt.Errorf("%w: print file is neither TIFF nor PNG", ErrNotImage)
	}

	var cfg image.Config
	err = safely(func() (err error) {
		cfg, err = c.config(bytes.NewReader(data))
		return err
	})
	if err != nil {
		return classify(c.name, err)
	}
	if !(cfg.Width == w && cfg.Height == h) && !(cfg.Width == h && cfg.Height == w) {
		return fmt.Errorf("printfile: %s print file is %dx%d, want %dx%d or %dx%d",
			c.name, cfg.Width, cfg.Height, w, h, h, w)
	}
	// The size is the one asked for, so decoding allocates no more than
	// the caller expects; it proves the pixel data is all there.
	lim := Limits{MaxBytes: maxBytes, MaxPixels: int64(w) * int64(h), MaxSide: max(w, h)}
	_, err = decodeBounded(c, data, lim)
	return err
}
