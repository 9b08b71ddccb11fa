package instrument_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"casefleet/shared/instrument"
)

func TestRecorderNotesTheFinalStatus(t *testing.T) {
	for _, c := range []struct {
		name  string
		serve func(w http.ResponseWriter)
		want  int
	}{
		{"nothing written", func(http.ResponseWriter) {}, http.StatusOK},
		{"a body only", func(w http.ResponseWriter) { w.Write([]byte("hi")) }, http.StatusOK},
		{"a status", func(w http.ResponseWriter) { w.WriteHeader(http.StatusTeapot) }, http.StatusTeapot},
		{"an early hint, then the answer", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusNotFound)
		}, http.StatusNotFound},
		{"a second status is not the answer", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadGateway)
			w.WriteHeader(http.StatusOK)
		}, http.StatusBadGateway},
	} {
		rec := &instrument.Recorder{ResponseWriter: httptest.NewRecorder()}
		c.serve(rec)
		if got := rec.Status(); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
}

func TestRecorderNotesAHijackOnce(t *testing.T) {
	type outcome struct {
		hijacked bool
		calls    int
	}
	done := make(chan outcome, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls := 0
		rec := &instrument.Recorder{ResponseWriter: w, OnHijack: func() { calls++ }}
		conn, _, err := rec.Hijack()
		if err != nil {
			t.Error(err)
		} else {
			conn.Close()
		}
		done <- outcome{rec.Hijacked(), calls}
	}))
	defer srv.Close()
	if resp, err := http.Get(srv.URL); err == nil {
		resp.Body.Close()
	}
	if got := <-done; !got.hijacked || got.calls != 1 {
		t.Errorf("hijacked=%v, OnHijack called %d times, want once", got.hijacked, got.calls)
	}
}
