package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// The agent may open streams of its own, each HTTP/1.1 to the relay's
// AgentHandler (its update API): the relay knows the agent by its tunnel,
// so these requests carry no credentials. A relay without AgentHandler,
// or of an earlier version, resets such a stream at once.

// ErrNotConnected is wrapped by RelayClient's errors while there is no
// tunnel.
var ErrNotConnected = errors.New("no tunnel to the relay")

// maxAgentStreams bounds the agent's streams a relay serves at once per
// tunnel; more are reset. An agent asks one thing at a time.
const maxAgentStreams = 4

// Limits of the relay's server on agent streams.
const (
	agentStreamReadHeaderTimeout = 30 * time.Second
	agentStreamIdleTimeout       = time.Minute
	agentStreamMaxHeaderBytes    = 16 << 10
)

type connKey struct{}

// ConnFromContext is the tunnel an AgentHandler's request came through:
// its machine code, claims and version.
func ConnFromContext(ctx context.Context) *Conn {
	c, _ := ctx.Value(connKey{}).(*Conn)
	return c
}

// serveAgent serves handler on the streams the agent opens until the link
// is down. It runs in the tunnel's own goroutine (see drain).
func (c *Conn) serveAgent(handler http.Handler, logger *slog.Logger) {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: agentStreamReadHeaderTimeout,
		IdleTimeout:       agentStreamIdleTimeout,
		MaxHeaderBytes:    agentStreamMaxHeaderBytes,
		ConnContext:       func(ctx context.Context, _ net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	srv.Serve(&cappedListener{link: c.link, free: make(chan struct{}, maxAgentStreams), logger: logger})
	srv.Close()
}

// cappedListener hands out the agent's streams, at most cap(free) open
// at once; the ones over are closed as they come.
type cappedListener struct {
	link   *link
	free   chan struct{} // a token per open stream
	logger *slog.Logger
}

func (l *cappedListener) Accept() (net.Conn, error) {
	for {
		s, err := l.link.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.free <- struct{}{}:
			return &cappedConn{Conn: s, free: l.free}, nil
		default:
			l.logger.Debug("agent opened too many streams: resetting one")
			s.Close()
		}
	}
}

func (l *cappedListener) Close() error   { return l.link.Close() }
func (l *cappedListener) Addr() net.Addr { return l.link.Addr() }

type cappedConn struct {
	net.Conn
	free chan struct{}
	once sync.Once
}

func (c *cappedConn) Close() error {
	c.once.Do(func() { <-c.free })
	return c.Conn.Close()
}

// RelayClient sends the agent's own requests to the relay over the
// current tunnel (see AgentConfig.RelayClient). It is safe for concurrent
// use, and usable before and between tunnels: requests then fail with
// ErrNotConnected.
type RelayClient struct {
	mu   sync.Mutex
	link *link // the current tunnel's, nil while down

	transport *http.Transport
}

// NewRelayClient returns a RelayClient with no tunnel yet.
func NewRelayClient() *RelayClient {
	r := &RelayClient{}
	r.transport = &http.Transport{
		Proxy:                 nil,
		DialContext:           r.dial,
		DisableCompression:    true,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second, // below the relay's idle timeout on these streams
		ResponseHeaderTimeout: time.Minute,
	}
	return r
}

// Do sends req to the relay's AgentHandler over the tunnel; the URL's
// scheme and host are ignored (use http://relay/...).
func (r *RelayClient) Do(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = "http", "relay", "relay"
	resp, err := r.transport.RoundTrip(out)
	if err != nil {
		return nil, fmt.Errorf("%s %s to the relay: %w", req.Method, req.URL.Path, err)
	}
	return resp, nil
}

func (r *RelayClient) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	r.mu.Lock()
	l := r.link
	r.mu.Unlock()
	if l == nil {
		return nil, ErrNotConnected
	}
	s, err := l.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotConnected, err)
	}
	return s, nil
}

// use makes l the tunnel requests go through (nil: none); streams of the
// previous tunnel are dropped.
func (r *RelayClient) use(l *link) {
	r.mu.Lock()
	r.link = l
	r.mu.Unlock()
	r.transport.CloseIdleConnections()
}
