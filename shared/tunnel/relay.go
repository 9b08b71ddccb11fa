package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"casefleet/shared/enroll"
	"casefleet/shared/machine"
)

// DefaultKeepAlive is the keepalive interval of both ends unless set.
const DefaultKeepAlive = 10 * time.Second

// Authenticator decides whether the kiosk presenting token may open a
// tunnel as machineCode, and returns the token's claims. The relay
// typically uses enroll.Verifier.VerifyFor.
//
// Its error is shown to the agent: errors wrapping the enroll sentinels
// refuse with 401 or 403 and a matching code, an error wrapping
// ErrUnavailable answers 503 (the agent retries soon), one wrapping
// ErrAlreadyConnected 409, any other error refuses with 403. Keep secrets
// out of the error text.
type Authenticator func(r *http.Request, machineCode, token string) (enroll.Claims, error)

// AcceptOptions configures Accept.
type AcceptOptions struct {
	Authenticate Authenticator // required
	PublicURL    string        // announced to the agent; empty announces nothing
	KeepAlive    time.Duration // ping interval; DefaultKeepAlive if zero
	Logger       *slog.Logger  // nil means slog.Default()
	// AnswerChecks answers a Check's handshake (HeaderCheck) with 200 and
	// ErrCheckOnly once its credentials pass, opening no tunnel; without
	// it a Check is upgraded like any agent (and hangs up at once).
	AnswerChecks bool
	// AgentHandler, if set, serves the requests the agent sends on
	// streams it opens (its update API; see RelayClient). Without it such
	// streams are reset. ConnFromContext tells the handler which tunnel.
	AgentHandler http.Handler

	older olderEnd // see linkConfig; for tests
}

// Conn is the relay's end of one agent's tunnel.
type Conn struct {
	claims    enroll.Claims
	version   string
	link      *link
	transport *http.Transport
	done      chan struct{}

	afterMu   sync.Mutex
	after     []func() // run once the tunnel is down
	afterDone bool     // they have run
}

// Accept checks the agent's handshake on the relay's ConnectPath endpoint
// and upgrades it to a tunnel. When it refuses, it has already answered
// the agent (a JSON error) and returns why. The Conn outlives the request:
// the caller may return from its handler, and must Close the Conn when it
// replaces or no longer wants it (http.Server.Shutdown does not see it).
func Accept(w http.ResponseWriter, r *http.Request, opts AcceptOptions) (*Conn, error) {
	if opts.Authenticate == nil {
		writeRefusal(w, http.StatusInternalServerError, "internal", "relay misconfigured")
		return nil, errors.New("accept tunnel: AcceptOptions.Authenticate is nil")
	}
	keepAlive := opts.KeepAlive
	if keepAlive <= 0 {
		keepAlive = DefaultKeepAlive
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}

	if !IsWebSocketUpgrade(r) {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		writeRefusal(w, http.StatusUpgradeRequired, "websocket_required", "this endpoint takes only the agent's WebSocket")
		return nil, errors.New("accept tunnel: not a WebSocket upgrade")
	}
	code := r.Header.Get(HeaderMachine)
	if err := machine.ValidateCode(code); err != nil {
		writeRefusal(w, http.StatusBadRequest, "invalid_machine", fmt.Sprintf("header %s: %v", HeaderMachine, err))
		return nil, fmt.Errorf("accept tunnel: %w", err)
	}
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeRefusal(w, http.StatusUnauthorized, "missing_token", "no enrollment token: want Authorization: Bearer <token>")
		return nil, fmt.Errorf("accept tunnel for %s: no bearer token", code)
	}
	claims, err := opts.Authenticate(r, code, token)
	if err == nil && claims.Machine != code {
		err = claims.CheckMachine(code) // the authenticator forgot to
	}
	if err != nil {
		status, reason := refusalFor(err)
		writeRefusal(w, status, reason, err.Error())
		return nil, fmt.Errorf("accept tunnel for %s: %w", code, err)
	}

	if opts.PublicURL != "" {
		w.Header().Set(HeaderPublicURL, opts.PublicURL)
	}
	if opts.AnswerChecks && IsCheck(r) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"status":"accepted"}`+"\n")
		return nil, ErrCheckOnly
	}
	// Through a frameGuard: a frame over the limit ends the tunnel at its
	// header, not when the keepalive gives up.
	ws, err := websocket.Accept(guardedHijacker{w, maxMessageLen}, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		// websocket.Accept has answered already.
		return nil, fmt.Errorf("accept tunnel for %s: %w", code, err)
	}
	l, err := newLink(ws, linkConfig{keepAlive: keepAlive, logger: logger.With("machine", code), older: opts.older})
	if err != nil {
		return nil, fmt.Errorf("accept tunnel for %s: %w", code, err)
	}

	c := &Conn{
		claims:  claims,
		version: cleanLine(r.Header.Get(HeaderVersion), 64),
		link:    l,
		done:    make(chan struct{}),
	}
	c.transport = &http.Transport{
		Proxy:                 nil, // the stream is the connection; no proxy in between
		DialContext:           c.DialContext,
		DisableCompression:    true, // pass the agent's encoding through untouched
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second, // below the agent's idle timeout
		ExpectContinueTimeout: time.Second,
	}
	go c.drain(logger.With("machine", code), opts.AgentHandler)
	return c, nil
}

// drain runs for the life of the tunnel: it serves the streams the agent
// opens with agentHandler, or, without one, resets them at once; it
// returns when the link is down.
func (c *Conn) drain(logger *slog.Logger, agentHandler http.Handler) {
	defer c.runAfterClose()
	defer close(c.done)
	defer c.transport.CloseIdleConnections()
	if agentHandler != nil {
		c.serveAgent(agentHandler, logger)
		return
	}
	for {
		s, err := c.link.Accept()
		if err != nil {
			return
		}
		logger.Debug("closing a stream opened by the agent")
		s.Close()
	}
}

// IsWebSocketUpgrade reports whether r asks for a WebSocket. The tunnel
// endpoint checks it before anything else so that stray requests get an
// answer in our shape; websocket.Accept checks the rest of the handshake.
func IsWebSocketUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet &&
		headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// RefusalCode is the code the agent is told when the Authenticator
// refuses with err (token_expired, wrong_machine, ...), for the relay's
// logs and metrics.
func RefusalCode(err error) string {
	_, code := refusalFor(err)
	return code
}

// refusalFor maps an Authenticator's error to the status and code the
// agent sees.
func refusalFor(err error) (status int, code string) {
	switch {
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable"
	case errors.Is(err, ErrAlreadyConnected):
		return http.StatusConflict, CodeAlreadyConnected
	case errors.Is(err, enroll.ErrExpired):
		return http.StatusUnauthorized, "token_expired"
	case errors.Is(err, enroll.ErrNotYetValid):
		return http.StatusUnauthorized, "token_not_yet_valid"
	case errors.Is(err, enroll.ErrBadSignature):
		return http.StatusUnauthorized, "token_invalid"
	case errors.Is(err, enroll.ErrMalformed):
		return http.StatusUnauthorized, "token_malformed"
	case errors.Is(err, enroll.ErrRevoked):
		return http.StatusForbidden, "token_revoked"
	case errors.Is(err, enroll.ErrWrongMachine):
		return http.StatusForbidden, "wrong_machine"
	default:
		return http.StatusForbidden, "forbidden"
	}
}

// Machine is the machine code of the agent at the other end.
func (c *Conn) Machine() string { return c.claims.Machine }

// Claims are the claims of the token the agent presented.
func (c *Conn) Claims() enroll.Claims { return c.claims }

// Version is the version the agent announced, possibly empty.
func (c *Conn) Version() string { return c.version }

// DialContext opens a new stream to the agent; network and addr are
// ignored. Plug it into an http.Transport, or use Transport. Once the
// tunnel is down it returns an error wrapping ErrClosed.
func (c *Conn) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	s, err := c.link.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("open stream to %s: %w", c.Machine(), err)
	}
	return s, nil
}

// Transport is an http.Transport whose connections are streams of this
// tunnel, for an httputil.ReverseProxy. It keeps idle streams for reuse
// and drops them when the tunnel goes down.
func (c *Conn) Transport() *http.Transport { return c.transport }

// Close takes the tunnel down, ending every stream.
func (c *Conn) Close() error {
	c.link.Close()
	<-c.done
	return nil
}

// Alive pings the agent and reports nil if it answers before ctx ends
// (or sends anything meanwhile: a pong can queue behind an upload on a
// slow link), else why not. The relay asks before letting a second agent
// take the machine over: a live tunnel keeps it, a dead or half-open one
// does not.
func (c *Conn) Alive(ctx context.Context) error {
	select {
	case <-c.done:
		return fmt.Errorf("%w: %w", ErrClosed, c.Err())
	default:
	}
	sent := time.Now()
	pong := make(chan error, 1)
	go func() {
		_, err := c.link.sess.Ping()
		pong <- err
	}()
	select {
	case err := <-pong:
		return err
	case <-c.done:
		return fmt.Errorf("%w: %w", ErrClosed, c.Err())
	case <-ctx.Done():
		if c.link.conn.heardSince(sent) {
			return nil
		}
		return fmt.Errorf("no answer to a ping: %w", ctx.Err())
	}
}

// AfterClose arranges for f to run once the tunnel is down (after Done is
// closed), in the tunnel's own goroutine; at once if it is down already.
// The relay watches thousands of idle tunnels this way without a goroutine
// for each.
func (c *Conn) AfterClose(f func()) {
	c.afterMu.Lock()
	if !c.afterDone {
		c.after = append(c.after, f)
		c.afterMu.Unlock()
		return
	}
	c.afterMu.Unlock()
	f()
}

func (c *Conn) runAfterClose() {
	c.afterMu.Lock()
	fs := c.after
	c.after, c.afterDone = nil, true
	c.afterMu.Unlock()
	for _, f := range fs {
		f()
	}
}

// Done is closed when the tunnel is down: closed, failed keepalive, or
// gone on the agent's side.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err reports why the tunnel went down, or nil while it is up.
func (c *Conn) Err() error { return c.link.Err() }
