package streamhttp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// writers holds the buffers requests are written through: a request's
// head goes out in one write, and an idle stream keeps no buffer.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}

func getWriter(w io.Writer) *bufio.Writer {
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

func putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	writers.Put(bw)
}

// copyBuffers holds the buffers request bodies are copied through.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func getCopyBuffer() *[]byte { return copyBuffers.Get().(*[]byte) }

// writerOnly hides a writer's ReadFrom from io.CopyBuffer.
type writerOnly struct{ io.Writer }

// validate refuses a request whose method, host or header names would
// not make a well-formed head (the relay's come from requests net/http
// parsed; this keeps a mistake from becoming a malformed request).
func validate(req *http.Request) error {
	if req.URL == nil {
		return errors.New("streamhttp: request without a URL")
	}
	if req.Method != "" && !isToken(req.Method) {
		return fmt.Errorf("streamhttp: invalid method %q", req.Method)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("streamhttp: invalid host %q", host)
	}
	for k := range req.Header {
		if !isToken(k) {
			return fmt.Errorf("streamhttp: invalid header name %q", k)
		}
	}
	return nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// outgoingLength is how long the body is: 0 without one, -1 when unknown
// (sent chunked).
func outgoingLength(req *http.Request, body io.ReadCloser) int64 {
	switch {
	case body == nil:
		return 0
	case req.ContentLength > 0:
		return req.ContentLength
	}
	return -1
}

// written separately by writeHead
var headExcluded = map[string]bool{"Host": true, "User-Agent": true, "Content-Length": true, "Transfer-Encoding": true, "Trailer": true}

// writeHead writes the request line and header as Request.Write would.
// Errors stay in bw, for its Flush.
func writeHead(bw *bufio.Writer, req *http.Request, length int64) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	bw.WriteString(method)
	bw.WriteByte(' ')
	bw.WriteString(req.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	if ua, ok := req.Header["User-Agent"]; !ok {
		bw.WriteString("User-Agent: Go-http-client/1.1\r\n")
	} else if len(ua) > 0 && ua[0] != "" { // set empty: none (as ReverseProxy asks)
		http.Header{"User-Agent": ua[:1]}.Write(bw)
	}
	switch {
	case length > 0 || length == 0 && (method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch):
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), length, 10))
		bw.WriteString("\r\n")
	case length < 0:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		if len(req.Trailer) > 0 {
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range req.Trailer {
					if !yield(k) {
						return
					}
				}
			})
			bw.WriteString("Trailer: " + strings.Join(keys, ",") + "\r\n")
		}
	}
	if req.Close && !saysClose(req.Header) {
		bw.WriteString("Connection: close\r\n")
	}
	req.Header.WriteSubset(bw, headExcluded)
	bw.WriteString("\r\n")
}

func saysClose(h http.Header) bool {
	for _, v := range h["Connection"] {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "close") {
				return true
			}
		}
	}
	return false
}

// bodyWriter is the copy of a request's body to the agent, running while
// the answer is read.
type bodyWriter struct {
	done    chan struct{}
	err     error // once done: nil if the body went out whole
	bodyErr error // once done: the body could not be read (the client's fault, not the agent's)
}

// maxBodyWait is how long a stream whose answer came whole waits for
// its request's body to be done before it is given up, as http.Transport
// does: the last write may return just after the agent has answered.
const maxBodyWait = 50 * time.Millisecond

// wait reports whether the request's body, if any, went out whole, or
// does within maxBodyWait.
func (w *bodyWriter) wait() bool {
	if w == nil {
		return true
	}
	select {
	case <-w.done:
		return w.err == nil
	default:
	}
	t := time.NewTimer(maxBodyWait)
	defer t.Stop()
	select {
	case <-w.done:
		return w.err == nil
	case <-t.C:
		return false
	}
}

// writeBody writes the head in bw, then body, and closes body. A body
// that fails to read aborts the stream: the agent must not wait for the
// rest, and the reader of the answer is woken.
func (c *conn) writeBody(w *bodyWriter, bw *bufio.Writer, body io.ReadCloser, length int64, trailer http.Header) {
	src := &readErrs{r: body}
	var err error
	if length < 0 {
		err = writeChunked(bw, src, trailer)
	} else {
		var n int64
		buf := getCopyBuffer()
		// Not io.Copy: bufio.Writer's ReadFrom would cut the body in 4 KiB
		// writes, each a frame of the tunnel. Large writes go through.
		n, err = io.CopyBuffer(writerOnly{bw}, io.LimitReader(src, length), *buf)
		copyBuffers.Put(buf)
		if err == nil && n < length {
			src.err = fmt.Errorf("body ended after %d of its %d bytes (Content-Length)", n, length)
			err = src.err
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	body.Close()
	putWriter(bw)
	w.err, w.bodyErr = err, src.err
	close(w.done)
	switch {
	case w.bodyErr != nil:
		c.abort()
	case err == nil:
		c.armHeaderTimeout()
	}
}

// writeChunked writes a body of unknown length in chunks, each sent as
// it comes (a streaming upload is not held back), then the trailer.
func writeChunked(bw *bufio.Writer, src io.Reader, trailer http.Header) error {
	cw := httputil.NewChunkedWriter(bw)
	buf := getCopyBuffer()
	defer copyBuffers.Put(buf)
	for {
		n, rerr := src.Read(*buf)
		if n > 0 {
			if _, err := cw.Write((*buf)[:n]); err != nil {
				return err
			}
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if err := cw.Close(); err != nil {
		return err
	}
	if err := trailer.Write(bw); err != nil {
		return err
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// readErrs remembers the error reading a body, to tell it from the
// stream's.
type readErrs struct {
	r   io.Reader
	err error
}

func (r *readErrs) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
