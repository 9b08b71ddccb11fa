package main

// The bench's pure parts; the bench itself (processes and Chromium) runs
// only as a program, from make bench.

import (
	"bytes"
	"image/jpeg"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []int64
		want int64
	}{
		{nil, 0},
		{[]int64{7}, 7},
		{[]int64{9, 1, 5}, 5},
		{[]int64{4, 1, 3, 2}, 2}, // (2+3)/2, in integers
		{[]int64{10, 30}, 20},
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %d, want %d", c.in, got, c.want)
		}
	}
	in := []int64{3, 1, 2}
	median(in)
	if in[0] != 3 || in[1] != 1 {
		t.Errorf("median sorted its argument: %v", in)
	}
}

func TestTableOfMedians(t *testing.T) {
	runs := []result{
		{toModels: 1200 * time.Millisecond, toInLine: 31 * time.Second, uploadBytes: 3_000_000, modelRequests: 21, modelBytes: 45_000},
		{toModels: 1000 * time.Millisecond, toInLine: 33 * time.Second, uploadBytes: 3_000_000, modelRequests: 23, modelBytes: 46_000},
		{toModels: 1400 * time.Millisecond, toInLine: 32 * time.Second, uploadBytes: 3_000_000, modelRequests: 22, modelBytes: 44_000},
	}
	var out bytes.Buffer
	if err := writeTable(&out, []row{summarise("mobile", runs)}); err != nil {
		t.Fatal(err)
	}
	want := "| profile | QR URL -> models shown (s) | tap Order -> in line (s) | photo bytes uploaded | requests/KB to models |\n" +
		"|---|--:|--:|--:|--:|\n" +
		"| mobile | 1.20 | 32.00 | 3000000 | 22 / 45 |\n"
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}

// CDP counts throughput in bytes per second; the profiles are in kbit/s.
func TestThrottlingUnits(t *testing.T) {
	mobile := profiles[1].conditions()
	if mobile.Latency != 150 || mobile.DownloadThroughput != 200_000 || mobile.UploadThroughput != 93_750 {
		t.Errorf("mobile: %+v, want 150 ms, 200000 B/s down, 93750 B/s up", mobile)
	}
	slow := profiles[2].conditions()
	if slow.Latency != 300 || slow.DownloadThroughput != 93_750 || slow.UploadThroughput != 31_250 {
		t.Errorf("3G: %+v, want 300 ms, 93750 B/s down, 31250 B/s up", slow)
	}
	if profiles[0].throttled() || !strings.HasPrefix(profiles[0].name, "none") {
		t.Errorf("the first profile is %+v, want none", profiles[0])
	}
}

func TestPhotoIsLikeAPhonePhoto(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes a 12-megapixel JPEG")
	}
	b, err := makePhoto(photoWidth, photoHeight)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != 4032 || cfg.Height != 3024 {
		t.Errorf("the photo is %d x %d, want 4032 x 3024", cfg.Width, cfg.Height)
	}
	// A phone's 12-MP JPEG is about 3 MB; a much smaller one would make the
	// upload figures flatter than a customer's.
	if len(b) < 2_500_000 || len(b) > 3_500_000 {
		t.Errorf("the photo is %d bytes, want about 3 MB", len(b))
	}
	small, err := makePhoto(400, 300)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := makePhoto(400, 300); !bytes.Equal(small, again) {
		t.Error("two photos of the same size differ: the bench's uploads would vary")
	}
}
