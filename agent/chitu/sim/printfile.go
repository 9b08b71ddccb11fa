package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/image/tiff"
)

// How the machine fetches a print file: it keeps trying for a while (the
// agent serving the file may be restarting), backing off between tries.
const (
	fetchWindow     = 30 * time.Second
	fetchFirstRetry = time.Second
	fetchMaxBackoff = 5 * time.Second
	// MaxPrintFileSize bounds a print file; a 300-dpi case is a few MB.
	MaxPrintFileSize = 64 << 20
)

// FetchReport is what the machine made of an order's print file.
type FetchReport struct {
	Attempts int       `json:"attempts"`
	Done     bool      `json:"done"`
	OK       bool      `json:"ok"`
	Error    string    `json:"error,omitempty"`
	Format   string    `json:"format,omitempty"` // "tiff" or "png"
	Width    int       `json:"width,omitempty"`
	Height   int       `json:"height,omitempty"`
	Bytes    int       `json:"bytes,omitempty"`
	At       time.Time `json:"at,omitzero"`
}

// errPermanent marks a fetch failure that retrying cannot fix.
var errPermanent = errors.New("permanent")

// fetchPrintFile downloads o's print file like the machine does, retrying
// failures for up to fetchWindow, and checks it.
func (s *Sim) fetchPrintFile(ctx context.Context, o *order) FetchReport {
	start := s.clock.Now()
	backoff := fetchFirstRetry
	for attempt := 1; ; attempt++ {
		data, err := s.download(ctx, o.imageURL)
		s.mu.Lock()
		o.fetch.Attempts = attempt
		if err != nil {
			o.fetch.Error = err.Error()
		}
		s.mu.Unlock()
		if err == nil {
			report := inspectPrintFile(data, o.product.printSize())
			report.Attempts, report.At = attempt, s.clock.Now()
			return report
		}
		s.log.Warn("fetch print file", "machine", o.machine.code, "order", o.id, "attempt", attempt, "err", err)
		giveUp := errors.Is(err, errPermanent) || s.clock.Now().Add(backoff).Sub(start) > fetchWindow
		if giveUp || sleep(ctx, s.clock, backoff) != nil {
			return FetchReport{Attempts: attempt, Done: true, Error: err.Error(), At: s.clock.Now()}
		}
		backoff = min(2*backoff, fetchMaxBackoff)
	}
}

// download GETs a print file.
func (s *Sim) download(ctx context.Context, rawURL string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: image_url %q is not an http(s) URL", errPermanent, rawURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errPermanent, err)
	}
	resp, err := s.fetcher.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", rawURL, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxPrintFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rawURL, err)
	}
	if len(data) > MaxPrintFileSize {
		return nil, fmt.Errorf("%w: print file over %d bytes", errPermanent, MaxPrintFileSize)
	}
	return data, nil
}

// inspectPrintFile checks a print file: a TIFF or PNG that decodes and has
// the template's pixel size (or that size turned 90 degrees).
func inspectPrintFile(data []byte, want image.Point) FetchReport {
	report := FetchReport{Done: true, Bytes: len(data)}
	var decodeConfig func(io.Reader) (image.Config, error)
	var decode func(io.Reader) (image.Image, error)
	switch {
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		report.Format, decodeConfig, decode = "tiff", tiff.DecodeConfig, tiff.Decode
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		report.Format, decodeConfig, decode = "png", png.DecodeConfig, png.Decode
	default:
		report.Error = "not a TIFF or PNG file"
		return report
	}
	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		report.Error = fmt.Sprintf("bad %s header: %v", report.Format, err)
		return report
	}
	report.Width, report.Height = cfg.Width, cfg.Height
	// Check the size before decoding, so a hostile header cannot make the
	// machine allocate gigabytes.
	if got := image.Pt(cfg.Width, cfg.Height); got != want && got != image.Pt(want.Y, want.X) {
		report.Error = fmt.Sprintf("print file is %dx%d px, template is %dx%d", cfg.Width, cfg.Height, want.X, want.Y)
		return report
	}
	if _, err := decode(bytes.NewReader(data)); err != nil {
		report.Error = fmt.Sprintf("bad %s data: %v", report.Format, err)
		return report
	}
	report.OK = true
	return report
}
