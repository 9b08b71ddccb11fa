package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"casefleet/shared/qr/qrtest"
)

func TestEditorURLKeepsTheStickerForm(t *testing.T) {
	tests := []struct {
		base, code, location string
		want                 string
	}{
		{"https://relay.example.com", "CT0700026", "mall-3f", "https://relay.example.com/editor?machine=CT0700026&location=mall-3f"},
		{"https://relay.example.com/", "CT0700026", "", "https://relay.example.com/editor?machine=CT0700026"},
		{"http://127.0.0.1:8080", "CT0700046", "Mall 3F & co", "http://127.0.0.1:8080/editor?machine=CT0700046&location=Mall+3F+%26+co"},
		{"https://example.com/kiosks/", "AB1234", "", "https://example.com/kiosks/editor?machine=AB1234"},
	}
	for _, tt := range tests {
		got, err := EditorURL(tt.base, tt.code, tt.location)
		if err != nil || got != tt.want {
			t.Errorf("EditorURL(%q, %q, %q) = %q, %v; want %q", tt.base, tt.code, tt.location, got, err, tt.want)
		}
	}
}

func TestEditorURLRefusesBadInput(t *testing.T) {
	tests := []struct{ name, base, code, location string }{
		{"no scheme", "relay.example.com", "CT0700026", ""},
		{"javascript", "javascript:alert(1)", "CT0700026", ""},
		{"ftp", "ftp://relay.example.com", "CT0700026", ""},
		{"no host", "https://", "CT0700026", ""},
		{"user info", "https://user:pw@relay.example.com", "CT0700026", ""},
		{"query", "https://relay.example.com/?x=1", "CT0700026", ""},
		{"fragment", "https://relay.example.com/#x", "CT0700026", ""},
		{"bad code", "https://relay.example.com", "ct0700026", ""},
		{"code with query", "https://relay.example.com", "CT0700026&x=1", ""},
		{"empty code", "https://relay.example.com", "", ""},
		{"long location", "https://relay.example.com", "CT0700026", strings.Repeat("x", MaxLocation+1)},
		{"control chars", "https://relay.example.com/\x00", "CT0700026", ""},
	}
	for _, tt := range tests {
		if got, err := EditorURL(tt.base, tt.code, tt.location); err == nil {
			t.Errorf("%s: EditorURL = %q, want an error", tt.name, got)
		}
	}
}

func TestPNGDecodesBackToTheLink(t *testing.T) {
	link, err := EditorURL("https://relay.example.com", "CT0700026", "mall-3f")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Encode(link)
	if err != nil {
		t.Fatal(err)
	}
	for _, scale := range []int{2, 8} {
		b, err := c.PNG(scale)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if w := img.Bounds().Dx(); w != c.Size()*scale {
			t.Errorf("scale %d: width %d, want %d", scale, w, c.Size()*scale)
		}
		if got := qrtest.Decode(t, img); got != link {
			t.Errorf("scale %d: decoded %q, want %q", scale, got, link)
		}
	}
}

func TestPNGRefusesBadScale(t *testing.T) {
	c, err := Encode("x")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []int{-1, 0, MaxScale + 1} {
		if _, err := c.PNG(s); err == nil {
			t.Errorf("PNG(%d): want an error", s)
		}
	}
}

func TestQuietZoneIsLight(t *testing.T) {
	c, err := Encode("https://relay.example.com/editor?machine=CT0700026")
	if err != nil {
		t.Fatal(err)
	}
	n := c.Size()
	for i := range n {
		for d := range 4 {
			if c.Dark(i, d) || c.Dark(d, i) || c.Dark(i, n-1-d) || c.Dark(n-1-d, i) {
				t.Fatalf("module in the quiet zone is dark (i=%d, d=%d)", i, d)
			}
		}
	}
	// The finder pattern's corner sits just inside the quiet zone.
	if !c.Dark(4, 4) || !c.Dark(n-5, 4) || !c.Dark(4, n-5) {
		t.Error("finder patterns missing")
	}
}

var svgRun = regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`)

// rasterSVG draws the SVG's path back into an image, 4 pixels a module.
func rasterSVG(t *testing.T, svg []byte) image.Image {
	t.Helper()
	m := regexp.MustCompile(`viewBox="0 0 (\d+) (\d+)"`).FindSubmatch(svg)
	if m == nil {
		t.Fatalf("no viewBox in %.200s", svg)
	}
	n, _ := strconv.Atoi(string(m[1]))
	const px = 4
	img := image.NewGray(image.Rect(0, 0, n*px, n*px))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for _, r := range svgRun.FindAllSubmatch(svg, -1) {
		x, _ := strconv.Atoi(string(r[1]))
		y, _ := strconv.Atoi(string(r[2]))
		w, _ := strconv.Atoi(string(r[3]))
		for yy := y * px; yy < (y+1)*px; yy++ {
			for xx := x * px; xx < (x+w)*px; xx++ {
				img.SetGray(xx, yy, color.Gray{})
			}
		}
	}
	return img
}

func TestSVGDecodesBackToTheLink(t *testing.T) {
	link := "http://127.0.0.1:8080/editor?machine=CT0700027&location=mall-3f"
	c, err := Encode(link)
	if err != nil {
		t.Fatal(err)
	}
	svg := c.SVG()
	if !bytes.HasPrefix(svg, []byte(`<svg xmlns="http://www.w3.org/2000/svg"`)) || !bytes.HasSuffix(svg, []byte(`</svg>`)) {
		t.Fatalf("not an SVG document: %.100s", svg)
	}
	if got := qrtest.Decode(t, rasterSVG(t, svg)); got != link {
		t.Errorf("decoded %q, want %q", got, link)
	}
}

func TestEncodeRefusesOversizedContent(t *testing.T) {
	if _, err := Encode(strings.Repeat("a", MaxContent+1)); !errors.Is(err, ErrTooLong) {
		t.Errorf("err = %v, want ErrTooLong", err)
	}
	if _, err := Encode(strings.Repeat("a", MaxContent)); err != nil {
		t.Errorf("content of MaxContent bytes: %v", err)
	}
}

// FuzzEditorURL: whatever goes in, a link that comes out parses back to
// the same machine and location, on the same host, at /editor.
func FuzzEditorURL(f *testing.F) {
	f.Add("https://relay.example.com", "CT0700026", "mall-3f")
	f.Add("http://127.0.0.1:8080/", "AB1234", "a&b=c#d")
	f.Add("https://x/%2e%2e/", "CT0700026", "")
	f.Fuzz(func(t *testing.T, base, code, location string) {
		link, err := EditorURL(base, code, location)
		if err != nil {
			return
		}
		u, err := url.Parse(link)
		if err != nil {
			t.Fatalf("EditorURL gave %q, which does not parse: %v", link, err)
		}
		b, _ := url.Parse(base)
		q := u.Query()
		switch {
		case u.Host != b.Host:
			t.Fatalf("host %q, want %q", u.Host, b.Host)
		case !strings.HasSuffix(u.Path, "/editor"):
			t.Fatalf("path %q", u.Path)
		case q.Get("machine") != code || q.Get("location") != location:
			t.Fatalf("query %v, want machine=%q location=%q", q, code, location)
		case !strings.Contains(link, "/editor?machine="+code):
			t.Fatalf("%q does not keep the sticker form", link)
		}
		if len(q) > 2 || u.Fragment != "" {
			t.Fatalf("extra parts in %q", fmt.Sprint(u))
		}
	})
}
