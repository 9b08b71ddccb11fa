package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"casefleet/relay/config"
	"casefleet/relay/sticker"
)

// qrOptions are the flags of `casefleet-relay qr`.
type qrOptions struct {
	fs                      *pflag.FlagSet
	machine, location, name string
	sheet, out              string
	dpi                     int
	bare                    bool
}

func qrFlags(fs *pflag.FlagSet) *qrOptions {
	o := &qrOptions{fs: fs}
	fs.StringVar(&o.machine, "machine", "", "the kiosk's machine code, e.g. CT0700026")
	fs.StringVar(&o.location, "location", "", "where it stands, e.g. mall-3f (in the link: alternatives when it is offline)")
	fs.StringVar(&o.name, "name", "", "the kiosk's name, printed under the code")
	fs.StringVar(&o.sheet, "sheet", "", "CSV file of many kiosks (columns code,location,name) for a sheet of stickers")
	fs.StringVar(&o.out, "out", "", "file to write: .png, .svg or .pdf (default: the sticker's SVG on standard output)")
	fs.IntVar(&o.dpi, "dpi", 300, "resolution of a PNG")
	fs.BoolVar(&o.bare, "bare", false, "only the QR code, without the text under it (for artwork of your own)")
	// The relay's own settings give the public URL: flag, environment
	// (CASEFLEET_RELAY_PUBLIC_URL) or the file of --config.
	fs.String("public-url", "", "the relay's public URL, which the code opens (default: the relay's public_url setting)")
	fs.String("config", "", "YAML file of the relay's settings, for public_url")
	return o
}

// run makes the sticker, or the sheet, and writes it.
func (o *qrOptions) run(stdout, stderr io.Writer) error {
	if (o.machine == "") == (o.sheet == "") {
		return errors.New("qr: give --machine CODE for one sticker, or --sheet FILE.csv for a sheet")
	}
	if o.sheet != "" && (o.location != "" || o.name != "") {
		return errors.New("qr: --location and --name are for one sticker; a sheet takes them from its CSV")
	}
	cfg, err := config.Load(o.fs)
	if err != nil {
		return err
	}
	if cfg.PublicURL == "" {
		return errors.New("qr: no public URL: give --public-url https://relay.example.com (or set the relay's public_url)")
	}
	format := "svg"
	if o.out != "" {
		format = strings.TrimPrefix(strings.ToLower(filepath.Ext(o.out)), ".")
		if format != "png" && format != "svg" && format != "pdf" {
			return fmt.Errorf("qr: --out %s: name a .png, .svg or .pdf file", o.out)
		}
	}
	if format == "png" && (o.dpi < sticker.MinDPI || o.dpi > sticker.MaxDPI) {
		return fmt.Errorf("qr: --dpi %d: from %d to %d", o.dpi, sticker.MinDPI, sticker.MaxDPI)
	}
	if o.sheet != "" {
		return o.writeSheet(cfg.PublicURL, format, stderr)
	}
	return o.writeSticker(cfg.PublicURL, format, stdout, stderr)
}

func (o *qrOptions) writeSticker(publicURL, format string, stdout, stderr io.Writer) error {
	s, err := sticker.New(publicURL, o.machine, o.location, o.name)
	if err != nil {
		return fmt.Errorf("qr: %w", err)
	}
	var data []byte
	switch {
	case o.bare && format == "png":
		data, err = s.Code().PNG(max(1, o.dpi/25)) // modules of about 1 mm
	case o.bare && format == "svg":
		data = s.Code().SVG()
	case o.bare:
		return errors.New("qr: --bare writes PNG or SVG")
	default:
		data, err = render(format, []*sticker.Page{s.Label()}, o.dpi)
	}
	if err != nil {
		return fmt.Errorf("qr: %w", err)
	}
	if format == "pdf" && !s.PDFShowsText() {
		fmt.Fprintf(stderr, "%s: the PDF's font cannot show some characters of the name or location; they print as '?'. SVG and PNG show them.\n", s.Machine)
	}
	if o.out == "" {
		_, err := stdout.Write(data)
		return err
	}
	if err := writeFile(o.out, data); err != nil {
		return fmt.Errorf("qr: %w", err)
	}
	fmt.Fprintf(stderr, "%s: %s -> %s\n", s.Machine, s.Link, o.out)
	return nil
}

func (o *qrOptions) writeSheet(publicURL, format string, stderr io.Writer) error {
	if o.out == "" {
		return errors.New("qr: --sheet needs --out FILE.pdf (or .svg, .png)")
	}
	if o.bare {
		return errors.New("qr: --bare is for one sticker")
	}
	f, err := os.Open(o.sheet)
	if err != nil {
		return fmt.Errorf("qr: %w", err)
	}
	stickers, err := sticker.ReadCSV(f, publicURL)
	f.Close()
	if err != nil {
		return fmt.Errorf("qr: %s:\n%w", o.sheet, err)
	}
	pages, err := sticker.Sheet(stickers, shortURL(publicURL))
	if err != nil {
		return fmt.Errorf("qr: %w", err)
	}
	if format == "pdf" {
		for _, s := range stickers {
			if !s.PDFShowsText() {
				fmt.Fprintf(stderr, "%s: the PDF's font cannot show some characters of the name or location; they print as '?'. SVG and PNG show them.\n", s.Machine)
			}
		}
		data, err := render(format, pages, o.dpi)
		if err != nil {
			return fmt.Errorf("qr: %w", err)
		}
		if err := writeFile(o.out, data); err != nil {
			return fmt.Errorf("qr: %w", err)
		}
		fmt.Fprintf(stderr, "%s on %s: %s\n", count(len(stickers), "sticker"), count(len(pages), "A4 page"), o.out)
		return nil
	}
	// SVG and PNG have no pages: one file each.
	for i, p := range pages {
		data, err := render(format, []*sticker.Page{p}, o.dpi)
		if err != nil {
			return fmt.Errorf("qr: %w", err)
		}
		name := pageFile(o.out, i, len(pages))
		if err := writeFile(name, data); err != nil {
			return fmt.Errorf("qr: %w", err)
		}
		fmt.Fprintf(stderr, "page %d of %d: %s\n", i+1, len(pages), name)
	}
	fmt.Fprintf(stderr, "%s on %s\n", count(len(stickers), "sticker"), count(len(pages), "A4 page"))
	return nil
}

// count is "1 thing" or "n things".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// render writes pages in format; PNG and SVG take one page.
func render(format string, pages []*sticker.Page, dpi int) ([]byte, error) {
	switch format {
	case "pdf":
		var b bytes.Buffer
		err := sticker.PDF(&b, pages)
		return b.Bytes(), err
	case "png":
		return pages[0].PNG(dpi)
	default:
		return pages[0].SVG(), nil
	}
}

// pageFile names page i of n: the file itself for one page, else
// sheet-1.png, sheet-2.png, ...
func pageFile(out string, i, n int) string {
	if n == 1 {
		return out
	}
	ext := filepath.Ext(out)
	return fmt.Sprintf("%s-%d%s", strings.TrimSuffix(out, ext), i+1, ext)
}

// shortURL is the relay's URL without its scheme, for the sheet's header.
func shortURL(u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	return strings.TrimRight(u, "/")
}

// writeFile writes data to path through a temporary file, so that a
// failed run never leaves half a sticker sheet behind.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
