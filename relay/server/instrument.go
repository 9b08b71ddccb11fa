package server

import (
	"bufio"
	"net"
	"net/http"
	"time"
)

// instrument serves r through serve and records it in the metrics: its
// route pattern, status and latency. A WebSocket is timed until it is
// switched (101), and a customer's counts as an open stream until it ends.
func (s *Server) instrument(w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter, *http.Request)) {
	start := time.Now()
	route := s.routes.label(r)
	var streamClosed func()
	rec := &recorder{ResponseWriter: w}
	rec.onHijack = func() {
		s.met.ObserveRequest(route, http.StatusSwitchingProtocols, time.Since(start))
		if route != connectRoute { // a tunnel, counted as one
			streamClosed = s.met.StreamOpened()
		}
	}
	// Deferred, so that a request the proxy aborts (http.ErrAbortHandler:
	// the agent's answer broke off) is still counted.
	defer func() {
		if rec.hijacked {
			if streamClosed != nil {
				streamClosed()
			}
			return
		}
		s.met.ObserveRequest(route, rec.statusOr200(), time.Since(start))
	}()
	serve(rec, r)
}

// recorder notes the status code written and whether the connection was
// hijacked (a WebSocket). Unwrap lets http.ResponseController reach the
// server's writer for deadlines and flushes.
type recorder struct {
	http.ResponseWriter
	status   int
	hijacked bool
	onHijack func()
}

func (rec *recorder) WriteHeader(code int) {
	// 1xx answers other than 101 are informational; the final one follows.
	if rec.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.ResponseWriter.Write(b)
}

// FlushError passes on to the server's writer, keeping its error for a
// ResponseController; Flush is for code that asserts http.Flusher.
func (rec *recorder) FlushError() error {
	return http.NewResponseController(rec.ResponseWriter).Flush()
}

func (rec *recorder) Flush() { _ = rec.FlushError() }

// Hijack hands the connection over (to a WebSocket), and notes it.
func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(rec.ResponseWriter).Hijack()
	if err == nil && !rec.hijacked {
		rec.hijacked = true
		rec.onHijack()
	}
	return conn, brw, err
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

func (rec *recorder) statusOr200() int {
	if rec.status == 0 {
		return http.StatusOK
	}
	return rec.status
}
