package streamhttp

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wait bounds what a test waits for.
const wait = 5 * time.Second

// agent is a net/http server on loopback TCP, as an agent behind its
// tunnel, and a Transport to it that counts the streams it opens.
type agent struct {
	srv    *httptest.Server
	tr     *Transport
	dials  atomic.Int32
	closed chan struct{} // one value per connection the server closed
}

func newAgent(t *testing.T, h http.Handler) *agent {
	t.Helper()
	a := &agent{closed: make(chan struct{}, 100)}
	a.srv = httptest.NewUnstartedServer(h)
	a.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed || s == http.StateHijacked {
			a.closed <- struct{}{}
		}
	}
	a.srv.Start()
	t.Cleanup(a.srv.Close)
	a.tr = &Transport{
		Dial: func(ctx context.Context) (net.Conn, error) {
			a.dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, "tcp", a.srv.Listener.Addr().String())
		},
		MaxIdle:     8,
		IdleTimeout: time.Minute,
	}
	t.Cleanup(a.tr.CloseIdleConnections)
	return a
}

// get asks for path and returns the answer's status and body.
func (a *agent) get(t *testing.T, path string) (int, string) {
	t.Helper()
	return a.do(t, newRequest(t, "GET", path, nil))
}

func (a *agent) do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	return do(t, a.tr, req)
}

func do(t *testing.T, tr *Transport, req *http.Request) (int, string) {
	t.Helper()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, string(b)
}

// waitClosed waits for the server to see n connections end.
func (a *agent) waitClosed(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-a.closed:
		case <-time.After(wait):
			t.Fatalf("the agent did not see %d streams closed", n)
		}
	}
}

func newRequest(t *testing.T, method, path string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "http://agent"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// rawAgent is an agent that answers the nth request (from 0) with
// answer(n)'s bytes, on net.Pipe streams, and closes the stream after:
// a hostile or broken agent.
func rawAgent(t *testing.T, answer func(n int) string) (*Transport, *atomic.Int32) {
	t.Helper()
	var dials, requests atomic.Int32
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	tr := &Transport{
		Dial: func(ctx context.Context) (net.Conn, error) {
			dials.Add(1)
			relay, agent := net.Pipe()
			wg.Go(func() {
				defer agent.Close()
				req, err := http.ReadRequest(bufio.NewReader(agent))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				io.WriteString(agent, answer(int(requests.Add(1)-1)))
			})
			return relay, nil
		},
		MaxIdle:     8,
		IdleTimeout: time.Minute,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr, &dials
}

const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// endless is a request body that never ends until closed.
type endless struct {
	once   sync.Once
	closed chan struct{}
}

func newEndless() *endless { return &endless{closed: make(chan struct{})} }

func (e *endless) Read(p []byte) (int, error) {
	select {
	case <-e.closed:
		return 0, io.ErrClosedPipe
	default:
	}
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func (e *endless) Close() error {
	e.once.Do(func() { close(e.closed) })
	return nil
}

// failingBody gives some bytes, then err.
type failingBody struct {
	r   io.Reader
	err error
}

func (f *failingBody) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("X-Seen", r.Method+" "+r.URL.RequestURI()+" "+strings.Join(r.TransferEncoding, ",")+" "+r.Header.Get("Connection"))
	w.Write(b)
}
