// Package instrument is what the agent's and the relay's metrics share: a
// Prometheus registry with the Go and process collectors, its /metrics
// handler, and a ResponseWriter that records the status code (and a
// WebSocket's hijack) for latency by route.
package instrument

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry is a registry with the Go runtime's and the process's
// collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves reg in the Prometheus text format. A collector that
// cannot be read is reported in log and left out; the rest is still
// served.
func Handler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg, // promhttp's own error counters
	})
}

// Recorder notes the status code written and whether the connection was
// hijacked (a WebSocket). Unwrap lets http.ResponseController (and
// WebSocket libraries) reach the server's writer for flushes, hijacks and
// deadlines.
type Recorder struct {
	http.ResponseWriter
	// OnHijack, when set, is called once when the connection is hijacked.
	OnHijack func()

	status   int
	hijacked bool
}

func (rec *Recorder) WriteHeader(code int) {
	// 1xx answers other than 101 are informational; the final one follows.
	if rec.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *Recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.ResponseWriter.Write(b)
}

// ReadFrom passes on to the server's writer, which copies a file (with
// sendfile, on a TCP connection) without a buffer of ours in between.
func (rec *Recorder) ReadFrom(src io.Reader) (int64, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rf, ok := rec.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{rec.ResponseWriter}, src)
}

// FlushError passes on to the server's writer, keeping its error for a
// ResponseController; Flush is for code that asserts http.Flusher.
func (rec *Recorder) FlushError() error {
	return http.NewResponseController(rec.ResponseWriter).Flush()
}

func (rec *Recorder) Flush() { _ = rec.FlushError() }

// Hijack hands the connection over (to a WebSocket), and notes it.
func (rec *Recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(rec.ResponseWriter).Hijack()
	if err == nil && !rec.hijacked {
		rec.hijacked = true
		if rec.OnHijack != nil {
			rec.OnHijack()
		}
	}
	return conn, brw, err
}

func (rec *Recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// Status is the status code written: 200 when the handler wrote nothing
// (net/http answers 200 then).
func (rec *Recorder) Status() int {
	if rec.status == 0 {
		return http.StatusOK
	}
	return rec.status
}

// Hijacked reports whether the connection was handed over.
func (rec *Recorder) Hijacked() bool { return rec.hijacked }
