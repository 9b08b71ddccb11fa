// Package catalog caches the phone models a machine prints and their print
// templates. The vendor's catalogue changes rarely and its cloud may be
// unreachable: the last good answer keeps serving while a refresh fails.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"casefleet/agent/chitu"
	"casefleet/agent/chitu/protocol"
	"casefleet/agent/printfile"
)

// ErrUnknownProduct is returned for a product id the machine does not print.
var ErrUnknownProduct = errors.New("unknown product")

// maxTemplateBytes bounds a print_img download.
const maxTemplateBytes = 32 << 20

// Catalog is one machine's product catalogue.
type Catalog struct {
	link   chitu.Link
	client *http.Client
	ttl    time.Duration
	log    *slog.Logger

	mu        sync.Mutex
	brands    []protocol.Brand
	fetched   time.Time
	templates map[string]*printfile.Template
}

// New returns a catalogue that refreshes from link at most every ttl.
func New(link chitu.Link, client *http.Client, ttl time.Duration, log *slog.Logger) *Catalog {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Catalog{link: link, client: client, ttl: ttl, log: log, templates: make(map[string]*printfile.Template)}
}

// Brands returns the catalogue, refreshing it when older than the TTL. When
// the refresh fails and an older answer exists, the older answer is served.
func (c *Catalog) Brands(ctx context.Context) ([]protocol.Brand, error) {
	c.mu.Lock()
	fresh := c.brands != nil && time.Since(c.fetched) < c.ttl
	brands := c.brands
	c.mu.Unlock()
	if fresh {
		return brands, nil
	}
	got, err := c.link.Products(ctx)
	if err != nil {
		if brands != nil {
			c.log.Warn("catalogue refresh failed; serving the last one", "err", err)
			return brands, nil
		}
		return nil, fmt.Errorf("read product catalogue: %w", err)
	}
	c.mu.Lock()
	c.brands, c.fetched = got, time.Now()
	c.mu.Unlock()
	return got, nil
}

// Product finds one model by its product id.
func (c *Catalog) Product(ctx context.Context, productID string) (protocol.Model, error) {
	brands, err := c.Brands(ctx)
	if err != nil {
		return protocol.Model{}, err
	}
	for _, b := range brands {
		for _, m := range b.ModelList {
			if m.Product() == productID {
				return m, nil
			}
		}
	}
	return protocol.Model{}, fmt.Errorf("%w %q", ErrUnknownProduct, productID)
}

// Template returns the print template of a product, downloading its
// print_img once.
func (c *Catalog) Template(ctx context.Context, productID string) (*printfile.Template, error) {
	c.mu.Lock()
	t, ok := c.templates[productID]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	m, err := c.Product(ctx, productID)
	if err != nil {
		return nil, err
	}
	img, err := c.download(ctx, m.PrintImg)
	if err != nil {
		return nil, fmt.Errorf("print template of %s: %w", productID, err)
	}
	t, err = printfile.NewTemplate(img)
	if err != nil {
		return nil, fmt.Errorf("print template of %s: %w", productID, err)
	}
	c.mu.Lock()
	c.templates[productID] = t
	c.mu.Unlock()
	return t, nil
}

func (c *Catalog) download(ctx context.Context, url string) (image.Image, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("print_img URL %q: %w", url, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: %s", url, resp.Status)
	}
	img, _, err := printfile.Decode(resp.Body, printfile.Limits{MaxBytes: maxTemplateBytes})
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", url, err)
	}
	return img, nil
}
