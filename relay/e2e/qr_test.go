package e2e

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"casefleet/shared/qr/qrtest"
)

// TestQRStickers runs `casefleet-relay qr` as an operator would.
func TestQRStickers(t *testing.T) {
	dir := t.TempDir()
	const relay = "https://cases.example.com"
	const link = relay + "/editor?machine=CT0700026&location=mall-3f"

	// Without --out, the sticker's SVG on standard output; the public URL
	// from the relay's own setting.
	cmd := exec.Command(relayBin, "qr", "--machine", "CT0700026", "--location", "mall-3f", "--name", "Mall 3F, east escalator")
	cmd.Env = append(os.Environ(), "CASEFLEET_RELAY_PUBLIC_URL="+relay)
	svg, err := cmd.Output()
	if err != nil {
		t.Fatalf("qr to standard output: %v", err)
	}
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		if _, err := d.Token(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("the SVG is not well-formed: %v", err)
			}
			break
		}
	}
	if !bytes.Contains(svg, []byte("Mall 3F, east escalator")) {
		t.Errorf("the SVG does not name the machine: %.300s", svg)
	}

	// --out by extension.
	out, code := runRelay(t, nil, "qr", "--machine", "CT0700026", "--location", "mall-3f", "--public-url", relay, "--out", filepath.Join(dir, "s.png"))
	if code != 0 || !strings.Contains(out, link) {
		t.Fatalf("qr --out s.png = %d %s", code, out)
	}
	f, err := os.Open(filepath.Join(dir, "s.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := qrtest.Decode(t, img); got != link {
		t.Errorf("the PNG's code reads %q, want %q", got, link)
	}

	// A sheet of 13 machines: a two-page PDF, or a PNG a page.
	csv := "code,location,name\n"
	for i := range 13 {
		csv += fmt.Sprintf("CT07%05d,mall-3f,Kiosk %d\n", i, i)
	}
	sheet := filepath.Join(dir, "fleet.csv")
	os.WriteFile(sheet, []byte(csv), 0o644)
	if out, code := runRelay(t, nil, "qr", "--sheet", sheet, "--public-url", relay, "--out", filepath.Join(dir, "sheet.pdf")); code != 0 || !strings.Contains(out, "13 stickers on 2 A4 pages") {
		t.Fatalf("qr --sheet --out sheet.pdf = %d %s", code, out)
	}
	pdf, _ := os.ReadFile(filepath.Join(dir, "sheet.pdf"))
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || bytes.Count(pdf, []byte("/Type /Page ")) != 2 {
		t.Errorf("sheet.pdf is not a two-page PDF: %.100q", pdf)
	}
	if out, code := runRelay(t, nil, "qr", "--sheet", sheet, "--public-url", relay, "--dpi", "100", "--out", filepath.Join(dir, "sheet.png")); code != 0 {
		t.Fatalf("qr --sheet --out sheet.png = %d %s", code, out)
	}
	for _, name := range []string{"sheet-1.png", "sheet-2.png"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("page file: %v", err)
		}
	}

	// Mistakes are explained, and leave nothing behind.
	os.WriteFile(filepath.Join(dir, "bad.csv"), []byte("code,location,name\nCT0700026,mall-3f\nct1,x,y\n"), 0o644)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"qr", "--sheet", filepath.Join(dir, "bad.csv"), "--public-url", relay, "--out", filepath.Join(dir, "bad.pdf")}, "line 2: 2 fields, want 3"},
		{[]string{"qr", "--sheet", filepath.Join(dir, "bad.csv"), "--public-url", relay, "--out", filepath.Join(dir, "bad.pdf")}, "line 3: invalid machine code"},
		{[]string{"qr", "--sheet", filepath.Join(dir, "missing.csv"), "--public-url", relay, "--out", filepath.Join(dir, "bad.pdf")}, "missing.csv"},
		{[]string{"qr", "--machine", "CT0700026"}, "public URL"},
		{[]string{"qr", "--machine", "CT0700026", "--public-url", "javascript:alert(1)"}, "http"},
		{[]string{"qr", "--machine", "CT0700026", "--public-url", relay, "--out", filepath.Join(dir, "s.jpg")}, ".png, .svg or .pdf"},
		{[]string{"qr", "--public-url", relay}, "--machine CODE"},
		{[]string{"qr", "--machine", "CT0700026", "--sheet", sheet, "--public-url", relay}, "--machine CODE"},
	} {
		out, code := runRelay(t, []string{"CASEFLEET_RELAY_PUBLIC_URL="}, tt.args...)
		if code == 0 || !strings.Contains(out, tt.want) {
			t.Errorf("%v = %d %q, want a failure saying %q", tt.args[1:], code, out, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.pdf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed run left bad.pdf: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}
