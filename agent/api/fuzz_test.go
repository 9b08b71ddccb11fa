package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"casefleet/agent/printfile"
)

// FuzzReadPrintRequest feeds arbitrary bodies of both accepted forms to the
// print request parser: it must never panic, and whatever it accepts must
// carry an image or an image URL within the limits.
func FuzzReadPrintRequest(f *testing.F) {
	f.Add("multipart/form-data; boundary=XX", []byte("--XX\r\nContent-Disposition: form-data; name=\"sessionId\"\r\n\r\nS\r\n--XX\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n\x89PNG\r\n--XX--\r\n"))
	f.Add("application/json", []byte(`{"image_url":"https://cdn.example.com/a.jpg","sessionId":"S","productId":"101","placement":{"scale":2}}`))
	f.Add("application/json", []byte(`{"image_url":1}`))
	f.Add("text/plain", []byte("hello"))
	s := &Server{opt: Options{ImageLimits: printfile.Limits{MaxBytes: 1 << 16}}}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/print", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		req, err := s.readPrintRequest(httptest.NewRecorder(), r)
		if err != nil {
			if _, ok := err.(*apiError); !ok {
				t.Fatalf("error %v is not a customer-facing API error", err)
			}
			return
		}
		if len(req.image) == 0 && req.imageURL == "" {
			t.Fatal("accepted a request with neither image nor image_url")
		}
		if int64(len(req.image)) > s.opt.ImageLimits.MaxBytes {
			t.Fatalf("accepted an image of %d bytes over the limit", len(req.image))
		}
		if err := req.placement.Validate(); err != nil {
			t.Fatalf("accepted an invalid placement: %v", err)
		}
	})
}

func FuzzValidFileName(f *testing.F) {
	for _, s := range []string{strings.Repeat("a", 32) + ".tif", "../casefleet.db", "x.png", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !validFileName(name) {
			return
		}
		if strings.ContainsAny(name, "/\\") || strings.Contains(name, "..") || len(name) != 36 {
			t.Fatalf("accepted %q", name)
		}
	})
}

// FuzzIdempotencyKey: any header value is either refused with a clear
// error or read as a key of visible ASCII within the bound, and a key is
// read the same bare or quoted.
func FuzzIdempotencyKey(f *testing.F) {
	for _, s := range []string{"k", `"k"`, `""`, "\x00", strings.Repeat("a", 300), "clé", `"a\"b"`, "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest(http.MethodPost, "/print", nil)
		r.Header["Idempotency-Key"] = []string{value}
		key, err := idempotencyKeyOf(r)
		if err != nil {
			if e, ok := err.(*apiError); !ok || e.code != "bad_idempotency_key" {
				t.Fatalf("error %v is not bad_idempotency_key", err)
			}
			return
		}
		if key == "" || len(key) > maxIdempotencyKey {
			t.Fatalf("accepted key %q of %d bytes", key, len(key))
		}
		for i := 0; i < len(key); i++ {
			if key[i] <= ' ' || key[i] > '~' || key[i] == '"' {
				t.Fatalf("accepted key %q with byte %#x", key, key[i])
			}
		}
		r.Header["Idempotency-Key"] = []string{`"` + key + `"`}
		if quoted, err := idempotencyKeyOf(r); err != nil || quoted != key {
			t.Fatalf("quoted %q read as %q, %v", key, quoted, err)
		}
	})
}
