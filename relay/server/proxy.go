package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"casefleet/relay/metrics"
	"casefleet/relay/route"
	"casefleet/shared/tunnel"
)

// hopHeader marks a request one relay forwards to another (its value is
// the sender's instance id). A request that carries it is never forwarded
// again, so two relays with stale directory views cannot loop.
const hopHeader = "X-Casefleet-Relay-Hop"

// target is where one request goes: a tunnel on this relay, or the peer
// relay that holds the machine's tunnel.
type target struct {
	match  match
	origin origin
	tunnel *route.Tunnel
	peer   *route.Entry
}

type targetKey struct{}

func withTarget(r *http.Request, t *target) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), targetKey{}, t))
}

func targetOf(r *http.Request) *target {
	t, _ := r.Context().Value(targetKey{}).(*target)
	return t
}

// newProxy is the relay's one reverse proxy. Where a request goes is
// decided before (see dispatch) and travels in its context; the proxy
// streams bodies both ways, WebSocket upgrades included.
func (s *Server) newProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        s.rewrite,
		Transport:      roundTripFunc(s.roundTrip),
		ModifyResponse: s.modifyResponse,
		ErrorHandler:   s.proxyError,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BufferPool:     newBufferPool(),
	}
}

func (s *Server) rewrite(pr *httputil.ProxyRequest) {
	t := targetOf(pr.In)
	if t.peer != nil {
		u, _ := url.Parse(t.peer.URL) // checked by route.ParseEntry
		pr.SetURL(u)
		pr.Out.Header.Set(hopHeader, s.cfg.InstanceID)
	} else {
		pr.Out.URL.Scheme = "http"
		pr.Out.URL.Host = "agent"
		pr.Out.Host = t.origin.host
		pr.Out.Header.Del(hopHeader)
	}
	// Rewrite starts with the X-Forwarded-* headers removed; these carry
	// the customer's, as far as the relay believes them.
	pr.Out.Header.Set("X-Forwarded-For", t.origin.chain)
	pr.Out.Header.Set("X-Forwarded-Proto", t.origin.proto)
	pr.Out.Header.Set("X-Forwarded-Host", t.origin.host)
}

func (s *Server) roundTrip(req *http.Request) (*http.Response, error) {
	t := targetOf(req)
	if t.peer != nil {
		s.met.PeerRequest(metrics.PeerSent)
		return s.peers.RoundTrip(req)
	}
	return t.tunnel.Transport.RoundTrip(req)
}

// modifyResponse remembers, with the editor page, which machine the
// browser is at, for the web app's assets (see appMachine).
func (s *Server) modifyResponse(resp *http.Response) error {
	t := targetOf(resp.Request)
	if t == nil || t.match.kind != routeEditor || resp.StatusCode != http.StatusOK {
		return nil
	}
	c := &http.Cookie{
		Name: appCookie, Value: t.match.code, Path: appPrefix, MaxAge: 86400,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: t.origin.proto == "https",
	}
	resp.Header.Add("Set-Cookie", c.String())
	return nil
}

// proxyError answers a request the agent (or the peer relay) could not
// answer.
func (s *Server) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	t := targetOf(r)
	log := s.log.With("machine", t.match.code, "path", r.URL.Path)
	var tooLarge *http.MaxBytesError
	bodyErr := clientBodyErr(r)
	switch {
	case errors.As(err, &tooLarge) || errors.As(bodyErr, &tooLarge):
		log.Debug("request body too large", "err", err)
		s.answer(w, r, tooLargeFailure(s.cfg.MaxBodyBytes))
	case r.Context().Err() != nil:
		// The customer went away; nobody reads an answer.
		log.Debug("client gone", "err", err)
	case bodyErr != nil && isTimeout(bodyErr):
		// The client's fault, not the agent's: it did not send its body
		// within request_timeout.
		log.Info("client too slow sending its body", "err", bodyErr)
		s.answer(w, r, failure{status: http.StatusRequestTimeout, code: "request_timeout"})
	case bodyErr != nil:
		// A body that does not parse (a malformed chunk size, a chunk
		// without its CRLF): the client's mistake, not a 502.
		log.Info("malformed request body", "err", bodyErr)
		s.answer(w, r, failure{status: http.StatusBadRequest, code: "bad_body"})
	case isTimeout(err):
		log.Warn("agent did not answer in time", "err", err)
		s.answer(w, r, failure{status: http.StatusGatewayTimeout, code: "agent_timeout", machine: t.match.code, retryAfter: 5 * time.Second})
	case t.tunnel != nil && !errors.Is(err, tunnel.ErrClosed) && t.tunnel.Up():
		log.Warn("proxy to agent", "err", err)
		s.answer(w, r, failure{status: http.StatusBadGateway, code: "bad_gateway", machine: t.match.code})
	case t.match.code == "":
		log.Info("agent unreachable", "err", err)
		s.answer(w, r, noAgent())
	case reconnected(s.table.Get(t.match.code), t.tunnel):
		// The agent reconnected while this request was on its way.
		s.answer(w, r, failure{status: http.StatusServiceUnavailable, code: "agent_reconnected", machine: t.match.code, retryAfter: time.Second})
	default:
		// The tunnel went down, or the peer relay that held it is gone:
		// the machine is offline until its agent reconnects.
		log.Info("machine unreachable", "err", err, "via_peer", t.peer != nil)
		s.answer(w, r, s.unavailable(r.Context(), r, t.match.code))
	}
}

// reconnected reports whether the machine's tunnel now, cur, is a newer
// one than the tunnel a failed request went through (nil if it went to a
// peer relay). The same tunnel can still look up for a moment after its
// session ended: the trip then failed because the agent went away.
func reconnected(cur, tried *route.Tunnel) bool {
	return cur != nil && cur != tried
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) ||
		strings.Contains(err.Error(), "timeout awaiting response headers")
}

func tooLargeFailure(limit int64) failure {
	return failure{status: http.StatusRequestEntityTooLarge, code: "too_large", vars: map[string]string{"mb": strconv.FormatInt(limit>>20, 10)}}
}

func noAgent() failure {
	return failure{status: http.StatusServiceUnavailable, code: "no_machine_online", retryAfter: 30 * time.Second}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// clientBody is a request's body as the handlers read it: it remembers
// the first error reading it from the client, so that a request the agent
// never got whole is blamed on the client, not on the agent.
type clientBody struct {
	io.ReadCloser
	mu  sync.Mutex
	err error
}

type clientBodyKey struct{}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return n, err
}

// clientBodyErr is the error reading r's body from the client, if any.
func clientBodyErr(r *http.Request) error {
	b, _ := r.Context().Value(clientBodyKey{}).(*clientBody)
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}
