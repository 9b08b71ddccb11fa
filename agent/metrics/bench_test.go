package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkInstrument is the cost Instrument adds to a request.
func BenchmarkInstrument(b *testing.B) {
	m := New(Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/chitu/machine/{code}/status", func(w http.ResponseWriter, r *http.Request) {})
	h := m.Instrument(mux)
	req := httptest.NewRequest(http.MethodGet, "/api/chitu/machine/CT0700026/status", nil)
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// BenchmarkScrape is one scrape with a full queue (20 orders).
func BenchmarkScrape(b *testing.B) {
	q := openQueue(b)
	for range 20 {
		enqueue(b, q)
	}
	m := New(Options{Queue: q, Machine: onlineMachine()})
	h := m.Handler()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		_, _ = io.Copy(io.Discard, rec.Body)
	}
}
