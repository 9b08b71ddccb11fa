package qr

import "testing"

const benchLink = "https://relay.example.com/editor?machine=CT0700026&location=mall-3f"

func BenchmarkEncode(b *testing.B) {
	for b.Loop() {
		if _, err := Encode(benchLink); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPNG(b *testing.B) {
	c, err := Encode(benchLink)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.PNG(8); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSVG(b *testing.B) {
	c, err := Encode(benchLink)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = c.SVG()
	}
}
