package streamhttp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Requests one after another share one stream, kept alive between them.
func TestAStreamIsReusedForTheNextRequest(t *testing.T) {
	a := newAgent(t, http.HandlerFunc(echo))
	for i := range 10 {
		status, body := a.do(t, newRequest(t, "POST", fmt.Sprintf("/print?n=%d", i), strings.NewReader("order")))
		if status != 200 || body != "order" {
			t.Fatalf("request %d = %d %q", i, status, body)
		}
		a.get(t, "/status")
	}
	if n := a.dials.Load(); n != 1 {
		t.Errorf("%d streams for 20 requests one after another, want 1", n)
	}
	if n := a.tr.idleCount(); n != 1 {
		t.Errorf("%d idle streams, want 1", n)
	}
}

// Either side saying Connection: close ends the stream after the answer.
func TestConnectionCloseEndsTheStream(t *testing.T) {
	a := newAgent(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/closing" {
			w.Header().Set("Connection", "close")
		}
		echo(w, r)
	}))
	a.get(t, "/closing")
	a.get(t, "/closing")
	req := newRequest(t, "GET", "/plain", nil)
	req.Close = true
	if _, _ = a.do(t, req); a.tr.idleCount() != 0 {
		t.Error("a stream of a request with Close set was kept")
	}
	resp, err := a.tr.RoundTrip(newRequest(t, "GET", "/plain", nil)) // a new stream
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := a.dials.Load(); n != 4 {
		t.Errorf("%d streams, want 4 (one per request)", n)
	}
	a.waitClosed(t, 3)

	// The agent sees the request's own Connection: close.
	seen := make(chan bool, 1)
	b := newAgent(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen <- r.Close }))
	req = newRequest(t, "GET", "/", nil)
	req.Close = true
	b.do(t, req)
	if !<-seen {
		t.Error("the agent did not see Connection: close")
	}
}

// Bodies of known and of unknown length go both ways, and the stream is
// reused after each.
func TestBodiesBothWays(t *testing.T) {
	big := strings.Repeat("0123456789", 100_000)
	a := newAgent(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("agent: %v", err)
		}
		w.Header().Set("X-Request-Length", fmt.Sprint(r.ContentLength))
		w.Header().Set("X-Trailer", r.Trailer.Get("X-Sum"))
		switch r.URL.Query().Get("answer") {
		case "chunked":
			w.Write(b[:len(b)/2])
			w.(http.Flusher).Flush() // no Content-Length: chunked
			w.Write(b[len(b)/2:])
		case "empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			w.Write(b)
		}
	}))
	for _, c := range []struct {
		name, answer string
		length       int64 // of the request: -1 sends it chunked
		body         string
		trailer      string
	}{
		{"small with length", "length", 5, "hello", ""},
		{"large with length", "length", int64(len(big)), big, ""},
		{"small chunked, with a trailer", "chunked", -1, "hello", "42"},
		{"large chunked", "chunked", -1, big, ""},
		{"large chunked to length", "length", -1, big, ""},
		{"none", "empty", 0, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(c.body)
			if c.length < 0 {
				body = io.MultiReader(body) // hides the length from NewRequest
			}
			req := newRequest(t, "POST", "/?answer="+c.answer, body)
			if c.body == "" {
				req.Body = nil
			}
			if c.trailer != "" {
				req.Trailer = http.Header{"X-Sum": nil}
				req.Body = io.NopCloser(&trailerSetter{r: req.Body, set: func() { req.Trailer.Set("X-Sum", c.trailer) }})
			}
			resp, err := a.tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.body {
				t.Errorf("echoed %d bytes, want %d", len(got), len(c.body))
			}
			if l := resp.Header.Get("X-Request-Length"); l != fmt.Sprint(c.length) {
				t.Errorf("the agent saw Content-Length %s, want %d", l, c.length)
			}
			if tr := resp.Header.Get("X-Trailer"); tr != c.trailer {
				t.Errorf("the agent saw trailer %q, want %q", tr, c.trailer)
			}
			if c.answer == "chunked" && resp.ContentLength != -1 {
				t.Errorf("answer's length %d, want chunked", resp.ContentLength)
			}
		})
	}
	if n := a.dials.Load(); n != 1 {
		t.Errorf("%d streams, want 1", n)
	}
}

// trailerSetter sets a trailer when its body ends, as a client's would
// arrive.
type trailerSetter struct {
	r   io.Reader
	set func()
}

func (s *trailerSetter) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		s.set()
	}
	return n, err
}

// An agent that answers before reading the body (413) gets its answer
// through: the body is copied beside the wait for the answer, so neither
// waits for the other. The body is closed and the stream not reused.
func TestAnAnswerBeforeTheWholeBodyComesThrough(t *testing.T) {
	a := newAgent(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	}))
	body := newEndless()
	req := newRequest(t, "POST", "/upload", nil)
	req.Body, req.ContentLength = body, -1
	resp, err := a.tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
	select {
	case <-body.closed:
	case <-time.After(wait):
		t.Fatal("the request body was never closed")
	}
	if a.tr.idleCount() != 0 {
		t.Error("a stream with half a request on it was kept")
	}
	a.get(t, "/")
	if n := a.dials.Load(); n != 2 {
		t.Errorf("%d streams, want 2", n)
	}
}

// A body that fails to read ends the request with that error, the
// client's, not a wait for an answer that cannot come.
func TestARequestBodyErrorIsTheRequestsError(t *testing.T) {
	a := newAgent(t, http.HandlerFunc(echo))
	tooLarge := &http.MaxBytesError{Limit: 10}
	for _, c := range []struct {
		name   string
		length int64
	}{{"with length", 100}, {"chunked", -1}} {
		t.Run(c.name, func(t *testing.T) {
			req := newRequest(t, "POST", "/upload", nil)
			req.Body = io.NopCloser(&failingBody{r: strings.NewReader("0123456789"), err: tooLarge})
			req.ContentLength = c.length
			_, err := a.tr.RoundTrip(req)
			var got *http.MaxBytesError
			if !errors.As(err, &got) {
				t.Fatalf("error %v, want the body's", err)
			}
		})
	}
	t.Run("shorter than its length", func(t *testing.T) {
		req := newRequest(t, "POST", "/upload", strings.NewReader("abc"))
		req.ContentLength = 10
		if _, err := a.tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "3 of its 10 bytes") {
			t.Fatalf("error %v, want a short body", err)
		}
	})
}

// A 101 answer hands the stream over as the body, which carries bytes
// both ways, the ones that came with the answer's head included.
func TestAnUpgradeHandsTheStreamOver(t *testing.T) {
	a := newAgent(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "no upgrade", http.StatusBadRequest)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		// The head and the first message in one write.
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString("echo " + line)
			brw.Flush()
		}
	}))
	req := newRequest(t, "GET", "/events", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	resp, err := a.tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("body %T is no io.ReadWriteCloser", resp.Body)
	}
	br := bufio.NewReader(rwc)
	if line, err := br.ReadString('\n'); line != "hello\n" {
		t.Fatalf("first message %q, %v", line, err)
	}
	io.WriteString(rwc, "ping\n")
	if line, err := br.ReadString('\n'); line != "echo ping\n" {
		t.Fatalf("answer %q, %v", line, err)
	}
	rwc.Close()
	a.waitClosed(t, 1)
	if a.tr.idleCount() != 0 {
		t.Error("an upgraded stream was kept for requests")
	}
}

// 1xx answers other than 101 are skipped: the answer is the final one.
func TestInformationalAnswersAreSkipped(t *testing.T) {
	t.Run("100 Continue from net/http", func(t *testing.T) {
		a := newAgent(t, http.HandlerFunc(echo))
		req := newRequest(t, "PUT", "/file", strings.NewReader("data"))
		req.Header.Set("Expect", "100-continue")
		if status, body := a.do(t, req); status != 200 || body != "data" {
			t.Errorf("= %d %q", status, body)
		}
	})
	t.Run("several", func(t *testing.T) {
		tr, _ := rawAgent(t, func(int) string {
			return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </app.js>\r\n\r\n" + okAnswer
		})
		resp, err := tr.RoundTrip(newRequest(t, "GET", "/", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "ok" {
			t.Errorf("= %d %q", resp.StatusCode, b)
		}
	})
	t.Run("endless", func(t *testing.T) {
		tr, _ := rawAgent(t, func(int) string { return strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 10) + okAnswer })
		if _, err := tr.RoundTrip(newRequest(t, "GET", "/", nil)); err == nil || !strings.Contains(err.Error(), "1xx") {
			t.Errorf("error %v, want too many 1xx", err)
		}
	})
}

// An agent that takes longer than ResponseHeaderTimeout to start its
// answer gets a timeout error; the time counts from the end of the
// request's body.
func TestResponseHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	a := newAgent(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		echo(w, r)
	}))
	a.tr.ResponseHeaderTimeout = 100 * time.Millisecond

	start := time.Now()
	_, err := a.tr.RoundTrip(newRequest(t, "GET", "/slow", nil))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !strings.Contains(err.Error(), "timeout awaiting response headers") {
		t.Fatalf("error %v, want a timeout", err)
	}
	if d := time.Since(start); d > wait {
		t.Errorf("took %v", d)
	}

	// A body sent over three times the timeout.
	pr, pw := io.Pipe()
	go func() {
		for range 6 {
			time.Sleep(50 * time.Millisecond)
			pw.Write([]byte("x"))
		}
		pw.Close()
	}()
	if status, body := a.do(t, newRequest(t, "POST", "/upload", pr)); status != 200 || body != "xxxxxx" {
		t.Errorf("slow upload = %d %q", status, body)
	}
}

// The end of a request's context ends its wait for the answer and the
// reading of its body, with the context's error; the stream is dropped.
func TestTheRequestsContextEndsIt(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	a := newAgent(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/half" {
			w.Write([]byte("first half"))
			w.(http.Flusher).Flush()
		}
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done(): // the relay closed the stream
		}
	}))

	t.Run("waiting for the answer", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-arrived; cancel() }()
		_, err := a.tr.RoundTrip(newRequest(t, "GET", "/wait", nil).WithContext(ctx))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context canceled", err)
		}
	})
	t.Run("reading the body", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		resp, err := a.tr.RoundTrip(newRequest(t, "GET", "/half", nil).WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		<-arrived
		buf := make([]byte, 100)
		if n, _ := resp.Body.Read(buf); !strings.HasPrefix("first half", string(buf[:n])) {
			t.Fatalf("read %q", buf[:n])
		}
		cancel()
		_, err = io.ReadAll(resp.Body)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context canceled", err)
		}
		resp.Body.Close()
	})
	if a.tr.idleCount() != 0 {
		t.Error("a stream of a canceled request was kept")
	}
	a.waitClosed(t, 2)
}

// A GET on an idle stream the agent closed meanwhile is sent again on a
// new stream; a POST, which may have been acted on, is not.
func TestAStaleIdleStreamIsRetriedOnceIfTheRequestAllows(t *testing.T) {
	a := newAgent(t, http.HandlerFunc(echo))
	closeIdle := func() {
		a.get(t, "/")
		a.srv.Config.SetKeepAlivesEnabled(false) // closes idle connections
		a.waitClosed(t, 1)
		a.srv.Config.SetKeepAlivesEnabled(true)
	}

	closeIdle()
	if status, body := a.do(t, newRequest(t, "GET", "/again", nil)); status != 200 || body != "" {
		t.Errorf("GET = %d %q", status, body)
	}
	if n := a.dials.Load(); n != 2 {
		t.Errorf("%d streams, want 2 (the first, and one for the retry)", n)
	}

	closeIdle()
	req := newRequest(t, "POST", "/print", nil)
	req.Body = io.NopCloser(strings.NewReader("order")) // no GetBody
	if _, err := a.tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "closed the stream") {
		t.Errorf("POST: error %v, want the stream closed", err)
	}
	if n := a.dials.Load(); n != 2 {
		t.Errorf("%d streams, want still 2 (no retry)", n)
	}

	// A fresh stream failing is not retried either.
	b, dials := rawAgent(t, func(int) string { return "" })
	if _, err := b.RoundTrip(newRequest(t, "GET", "/", nil)); err == nil {
		t.Error("no error from a stream closed at once")
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d streams, want 1", n)
	}
}

// At most MaxIdle streams wait for reuse, none longer than IdleTimeout.
func TestIdleStreamsAreCappedAndExpire(t *testing.T) {
	const parallel = 4
	var arrived sync.WaitGroup
	arrived.Add(parallel)
	a := newAgent(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/together" {
			arrived.Done()
			arrived.Wait() // all four at once, on four streams
		}
	}))
	a.tr.MaxIdle = 2
	a.tr.IdleTimeout = 200 * time.Millisecond
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() { a.get(t, "/together") })
	}
	wg.Wait()
	if n := a.dials.Load(); n != parallel {
		t.Fatalf("%d streams, want %d", n, parallel)
	}
	if n := a.tr.idleCount(); n != 2 {
		t.Errorf("%d idle streams, want MaxIdle 2", n)
	}
	a.waitClosed(t, parallel-2)
	a.waitClosed(t, 2) // after IdleTimeout
	if n := a.tr.idleCount(); n != 0 {
		t.Errorf("%d idle streams after IdleTimeout, want 0", n)
	}
	a.get(t, "/")
	if n := a.dials.Load(); n != parallel+1 {
		t.Errorf("%d streams, want a new one after the idle ones expired", n)
	}
}

// CloseIdleConnections closes the idle streams; the next request opens
// a new one.
func TestCloseIdleConnections(t *testing.T) {
	a := newAgent(t, http.HandlerFunc(echo))
	a.get(t, "/")
	a.tr.CloseIdleConnections()
	a.waitClosed(t, 1)
	a.get(t, "/")
	if n := a.dials.Load(); n != 2 {
		t.Errorf("%d streams, want 2", n)
	}
}

// A malformed answer is a clear error, and its stream is not reused.
func TestMalformedAnswers(t *testing.T) {
	for _, c := range []struct {
		name, answer, err string
		inBody            bool // the error comes reading the body
	}{
		{"garbage status line", "HELLO AGENT\r\n\r\n", "malformed HTTP", false},
		{"bad content length", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", "Content-Length", false},
		{"two content lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "Content-Length", false},
		{"oversized header", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", "head is over", false},
		{"endless header lines", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: b\r\n", 200_000), "head is over", false},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk", true},
		{"body shorter than its length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "EOF", true},
		{"nothing", "", "closed the stream", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr, dials := rawAgent(t, func(n int) string {
				if n == 0 {
					return c.answer
				}
				return okAnswer
			})
			resp, err := tr.RoundTrip(newRequest(t, "GET", "/", nil))
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if !c.inBody {
					t.Errorf("the error came reading the body: %v", err)
				}
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want one about %q", err, c.err)
			}
			if n := tr.idleCount(); n != 0 {
				t.Errorf("the broken stream was kept")
			}
			if status, body := do(t, tr, newRequest(t, "GET", "/", nil)); status != 200 || body != "ok" {
				t.Errorf("next request = %d %q", status, body)
			}
			if n := dials.Load(); n != 2 {
				t.Errorf("%d streams, want 2", n)
			}
		})
	}
}
