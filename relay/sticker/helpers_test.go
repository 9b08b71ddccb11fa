package sticker

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"casefleet/shared/testenv"
)

const relayURL = "https://cases.example.com"

func mustSticker(t testing.TB, code, location, name string) Sticker {
	t.Helper()
	s, err := New(relayURL, code, location, name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fleet is n stickers with names and locations like a real fleet's.
func fleet(t testing.TB, n int) []Sticker {
	t.Helper()
	var out []Sticker
	for i := range n {
		out = append(out, mustSticker(t, fmt.Sprintf("CT07%05d", i), fmt.Sprintf("mall-%d", i%5), fmt.Sprintf("Kiosk %d", i)))
	}
	return out
}

func decodePNG(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

// cropCode cuts code c (its quiet zone included) out of a picture of its
// page drawn at dpi.
func cropCode(img image.Image, c placedCode, dpi float64) image.Image {
	s := dpi / 72
	side := float64(c.code.Size()) * c.module
	r := image.Rect(int(c.x*s), int(c.y*s), int((c.x+side)*s), int((c.y+side)*s))
	return img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(r)
}

// poppler is the path of a poppler-utils program (pdftoppm, pdftotext).
// Where it is missing the test is skipped loudly, or fails on CI.
func poppler(t *testing.T, program string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err == nil {
		return path
	}
	msg := "\n*** " + program + " is not installed: apt-get install -y poppler-utils\n"
	if testenv.Required() {
		t.Fatal(msg + "*** " + testenv.RequireVar + "=1, so this is a failure")
	}
	t.Skip(msg + "*** SKIPPING this test (set " + testenv.RequireVar + "=1 to make it fail)")
	return ""
}

// renderPDF renders every page of pdf at dpi with poppler's pdftoppm.
func renderPDF(t *testing.T, pdf []byte, dpi int) []image.Image {
	t.Helper()
	pdftoppm := poppler(t, "pdftoppm")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftoppm, "-r", strconv.Itoa(dpi), "-png", in, filepath.Join(dir, "page")).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		// poppler says "Syntax Error" and carries on for a broken file.
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "page-*.png"))
	var pages []image.Image
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, decodePNG(t, b))
	}
	return pages
}

func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	pdftotext := poppler(t, "pdftotext")
	in := filepath.Join(t.TempDir(), "in.pdf")
	if err := os.WriteFile(in, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, "-layout", in, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}
