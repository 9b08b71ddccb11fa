package printfile

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"strings"

	"golang.org/x/image/webp"
)

// Errors from Decode and Check. They are wrapped with detail; test them with
// errors.Is. An HTTP handler maps them as noted.
var (
	// ErrTooLarge: the upload (or print file) has more bytes than allowed (413).
	ErrTooLarge = errors.New("printfile: file too large")
	// ErrNotImage: not a JPEG, PNG or WebP, or a variant of one that is not
	// supported (415).
	ErrNotImage = errors.New("printfile: not a supported image")
	// ErrTooManyPixels: the image's declared size is over the limits (413).
	ErrTooManyPixels = errors.New("printfile: image dimensions too large")
	// ErrTruncated: the image data ends early (400).
	ErrTruncated = errors.New("printfile: image data truncated")
	// ErrCorrupt: the image data is malformed (400).
	ErrCorrupt = errors.New("printfile: image data corrupt")
)

// Limits bound what Decode accepts. A zero or negative field means the
// default from DefaultLimits, so a zero Limits is still safe.
type Limits struct {
	MaxBytes  int64 // size of the encoded upload
	MaxPixels int64 // width x height
	MaxSide   int   // width and height, each
}

// DefaultLimits allows 15 MiB uploads of up to 50 megapixels and 12000
// pixels a side: any phone camera's photo, well short of exhausting a
// kiosk PC's memory.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 15 << 20, MaxPixels: 50_000_000, MaxSide: 12000}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = d.MaxPixels
	}
	if l.MaxSide <= 0 {
		l.MaxSide = d.MaxSide
	}
	return l
}

// checkSize rejects a declared size before any pixel memory is allocated.
func (l Limits) checkSize(what string, w, h int) error {
	switch {
	case w <= 0 || h <= 0:
		return fmt.Errorf("%w: %s declares %dx%d", ErrCorrupt, what, w, h)
	case w > l.MaxSide || h > l.MaxSide:
		return fmt.Errorf("%w: %s is %dx%d, more than %d px a side", ErrTooManyPixels, what, w, h, l.MaxSide)
	case int64(w)*int64(h) > l.MaxPixels:
		return fmt.Errorf("%w: %s is %dx%d, more than %d pixels", ErrTooManyPixels, what, w, h, l.MaxPixels)
	}
	return nil
}

// codec is one accepted input format. Each is called directly rather than
// through image.Decode, whose registry is global: a GIF or BMP decoder
// registered anywhere else in the binary must not widen what customers may
// upload.
type codec struct {
	name   string
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var (
	jpegCodec = codec{"jpeg", jpeg.DecodeConfig, jpeg.Decode}
	pngCodec  = codec{"png", png.DecodeConfig, png.Decode}
	webpCodec = codec{"webp", webp.DecodeConfig, webp.Decode}
)

const (
	pngMagic = "\x89PNG\r\n\x1a\n"
	pngEnd   = "\x00\x00\x00\x00IEND\xaeB`\x82" // an empty IEND chunk and its CRC
)

// sniffUpload picks the codec from the first bytes, never from a file name
// or a client's Content-Type.
func sniffUpload(data []byte) (codec, bool) {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		return jpegCodec, true
	case bytes.HasPrefix(data, []byte(pngMagic)):
		return pngCodec, true
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return webpCodec, true
	}
	return codec{}, false
}

// Decode reads an uploaded photo: at most lim.MaxBytes (one byte more to
// tell an oversized upload), sniffs JPEG, PNG or WebP from its content,
// reads only the header to check the declared size against lim, and only
// then decodes the pixels. It returns the image and the format name
// ("jpeg", "png" or "webp").
//
// A JPEG's EXIF orientation is honoured: the image returned is upright, as
// a browser shows it. It is a view that Render samples without copying;
// its At method is correct but slow, so prefer Render for whole images.
func Decode(r io.Reader, lim Limits) (image.Image, string, error) {
	lim = lim.withDefaults()
	data, err := readAtMost(r, lim.MaxBytes)
	if err != nil {
		return nil, "", err
	}
	if len(data) == 0 {
		return nil, "", fmt.Errorf("%w: empty upload", ErrNotImage)
	}
	c, ok := sniffUpload(data)
	if !ok {
		return nil, "", fmt.Errorf("%w: want JPEG, PNG or WebP", ErrNotImage)
	}
	img, err := decodeBounded(c, data, lim)
	if err != nil {
		return nil, "", err
	}
	if c.name == jpegCodec.name {
		img = orient(img, jpegOrientation(data))
	}
	return img, c.name, nil
}

// decodeBounded checks the declared size, decodes, and makes sure the
// decoder produced the size the header declared.
func decodeBounded(c codec, data []byte, lim Limits) (image.Image, error) {
	var cfg image.Config
	err := safely(func() (err error) {
		cfg, err = c.config(bytes.NewReader(data))
		return err
	})
	if err != nil {
		return nil, classify(c.name, err)
	}
	if err := lim.checkSize(c.name, cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	var img image.Image
	err = safely(func() (err error) {
		img, err = c.decode(bytes.NewReader(data))
		return err
	})
	if err != nil {
		if c.name == pngCodec.name && !bytes.HasSuffix(data, []byte(pngEnd)) {
			// image/png reports a cut-off file as "not enough pixel data";
			// a file without its final IEND chunk was cut off.
			return nil, fmt.Errorf("%w: png: no IEND chunk at the end: %w", ErrTruncated, err)
		}
		return nil, classify(c.name, err)
	}
	if size := img.Bounds().Size(); size.X != cfg.Width || size.Y != cfg.Height {
		return nil, fmt.Errorf("%w: %s header says %dx%d, data holds %dx%d",
			ErrCorrupt, c.name, cfg.Width, cfg.Height, size.X, size.Y)
	}
	return img, nil
}

// readAtMost reads all of r when it holds at most max bytes, and fails
// with ErrTooLarge after reading max+1 bytes otherwise.
func readAtMost(r io.Reader, max int64) ([]byte, error) {
	var buf bytes.Buffer
	// Multipart files and bytes.Readers know their size: allocate once
	// instead of growing by doubling.
	if size, ok := knownSize(r); ok && size <= max {
		buf.Grow(int(size) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(r, max+1)); err != nil {
		return nil, fmt.Errorf("read upload: %w", err)
	}
	if int64(buf.Len()) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return buf.Bytes(), nil
}

// knownSize is r's size when it can tell without reading: an in-memory
// multipart file or bytes.Reader (Size), or one spooled to disk (Stat).
func knownSize(r io.Reader) (int64, bool) {
	switch r := r.(type) {
	case interface{ Size() int64 }:
		return r.Size(), r.Size() >= 0
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := r.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size(), true
		}
	}
	return 0, false
}

// classify wraps a decoder's error in the sentinel a caller decides on,
// keeping the decoder's own message.
func classify(format string, err error) error {
	var (
		jpegUnsupported jpeg.UnsupportedError
		pngUnsupported  png.UnsupportedError
		kind            error
	)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		kind = ErrTruncated
	case errors.As(err, &jpegUnsupported), errors.As(err, &pngUnsupported):
		kind = ErrNotImage
	default:
		kind = ErrCorrupt
	}
	if strings.HasPrefix(err.Error(), format+":") { // most decoders name themselves
		return fmt.Errorf("%w: %w", kind, err)
	}
	return fmt.Errorf("%w: %s: %w", kind, format, err)
}

// safely runs a decoder over hostile bytes, turning a panic in it into an
// error: a decoder bug must cost one upload, not the agent.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panic: %v", r)
		}
	}()
	return f()
}
