package lan

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// BodyRate bounds how slowly a request body may arrive, so that a client
// cannot hold a connection (and a handler) open by trickling bytes
// (slowloris). It is a rate, not a total time: a phone uploading a large
// photo slowly but steadily is served, however long that takes.
type BodyRate struct {
	// Grace is how long the first bytes of a body may take, and the head
	// start the rate is measured from.
	Grace time.Duration
	// MinRate is the least average speed, in bytes a second, counted from
	// the handler's start: by Grace + n/MinRate at least n bytes are in.
	MinRate int
	// Idle is the longest wait for the next bytes, however far ahead of
	// the rate a body is.
	Idle time.Duration
}

// DefaultBodyRate is the agent's bound on every listener (LAN and tunnel).
//
// A real slow phone: a 3 MB photo on a poor mobile link at 250 kbit/s
// (~31 KB/s) takes about 100 s; on 2G/EDGE about 100-200 kbit/s. 4 KiB/s
// (32 kbit/s) leaves such a phone a margin of 4-8 times; 10 s of grace
// covers a radio waking up and the relay's round trips before the first
// bytes; 30 s without a byte means the phone lost its link (the web app
// retries the order with the same Idempotency-Key). A slowloris sending a
// byte now and then is cut after about 10 s, and keeping a connection open
// costs an attacker 4 KiB/s of real upload each.
func DefaultBodyRate() BodyRate {
	return BodyRate{Grace: 10 * time.Second, MinRate: 4 << 10, Idle: 30 * time.Second}
}

// ErrBodyTooSlow is what reading a body that broke the rate returns.
var ErrBodyTooSlow = errors.New("request body arrived too slowly")

// Handler applies the bound to every request with a body that h serves,
// and logs each body it cuts. It sets read deadlines on the connection (http.ResponseController), so
// it must wrap h directly on the server, outside any ResponseWriter
// wrapper that does not unwrap. Requests without a body (GET, WebSocket
// upgrades) are left alone.
func (b BodyRate) Handler(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			h.ServeHTTP(w, r)
			return
		}
		body := &rateBody{ReadCloser: r.Body, rate: b, rc: http.NewResponseController(w), start: time.Now(), req: r, log: log}
		body.last = body.start
		// Also bounds a body the handler never reads: net/http discards
		// it (up to 256 KiB) before answering.
		if err := body.setDeadline(); err != nil {
			h.ServeHTTP(w, r) // a connection without deadlines (tests' recorders)
			return
		}
		r.Body = body
		h.ServeHTTP(w, r)
	})
}

// rateBody sets the connection's read deadline before each read, from the
// bytes read so far.
type rateBody struct {
	io.ReadCloser
	rate        BodyRate
	rc          *http.ResponseController
	start, last time.Time // the handler's start; the last bytes read
	n           int64     // bytes read
	done        bool      // EOF seen: deadline cleared
	req         *http.Request
	log         *slog.Logger
}

func (b *rateBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	if err := b.setDeadline(); err != nil {
		return 0, fmt.Errorf("request body: %w", err)
	}
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.n += int64(n)
		b.last = time.Now()
	}
	switch {
	case err == io.EOF:
		// The body is in: net/http now watches the connection for the
		// client going away, which must not time out while the handler
		// works.
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case isTimeout(err):
		took := time.Since(b.start).Round(time.Second)
		b.log.Info("request body arrived too slowly: cut off", "method", b.req.Method, "path", b.req.URL.Path,
			"client", b.req.RemoteAddr, "bytes", b.n, "declared", b.req.ContentLength, "after", took)
		err = fmt.Errorf("%w (%d bytes in %v): %w", ErrBodyTooSlow, b.n, took, err)
	}
	return n, err
}

func (b *rateBody) setDeadline() error {
	byRate := b.start.Add(b.rate.Grace + time.Duration(float64(b.n)/float64(b.rate.MinRate)*float64(time.Second)))
	deadline := b.last.Add(b.rate.Idle)
	if byRate.Before(deadline) {
		deadline = byRate
	}
	return b.rc.SetReadDeadline(deadline)
}

// isTimeout reports a read deadline passing: os.ErrDeadlineExceeded on a
// TCP connection, yamux's own timeout error on a tunnel stream.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
