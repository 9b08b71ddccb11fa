package instrument_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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

// readFromWriter is a server's writer that copies bodies itself (as
// net/http's does, with sendfile on a TCP connection).
type readFromWriter struct {
	*httptest.ResponseRecorder
	readFrom int
}

func (w *readFromWriter) ReadFrom(src io.Reader) (int64, error) {
	w.readFrom++
	return io.Copy(w.ResponseRecorder, src)
}

func TestRecorderHandsBodiesToTheServersReadFrom(t *testing.T) {
	own := &readFromWriter{ResponseRecorder: httptest.NewRecorder()}
	rec := &instrument.Recorder{ResponseWriter: own}
	if n, err := rec.ReadFrom(strings.NewReader("a print file")); n != 12 || err != nil {
		t.Fatalf("ReadFrom = %d, %v", n, err)
	}
	if own.readFrom != 1 || own.Body.String() != "a print file" || rec.Status() != http.StatusOK {
		t.Errorf("server's ReadFrom called %d times, body %q, status %d; want once, the file, 200", own.readFrom, own.Body, rec.Status())
	}

	// A writer without ReadFrom gets the body through its Write.
	plain := httptest.NewRecorder()
	rec = &instrument.Recorder{ResponseWriter: plain}
	rec.WriteHeader(http.StatusPartialContent)
	if n, err := rec.ReadFrom(strings.NewReader("part")); n != 4 || err != nil {
		t.Fatalf("ReadFrom = %d, %v", n, err)
	}
	if plain.Body.String() != "part" || rec.Status() != http.StatusPartialContent {
		t.Errorf("body %q, status %d; want the part, 206", plain.Body, rec.Status())
	}
}
