package tunnel

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// handshakeTimeout bounds dialing the relay and its answer.
const handshakeTimeout = 15 * time.Second

// Timeouts of the HTTP server on the tunnel. The relay's transport drops
// idle streams after 90 s, before the agent does, so that it never sends a
// request on a stream the agent is closing.
const (
	tunnelReadHeaderTimeout = 30 * time.Second
	tunnelIdleTimeout       = 2 * time.Minute
)

// connect dials the relay once and, if it accepts, serves the handler on
// the tunnel until the tunnel or ctx ends. It calls up once the tunnel is
// established, and returns why it ended.
func (a *agent) connect(ctx context.Context, up func(publicURL string)) error {
	l, publicURL, err := a.dial(ctx, false)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.cfg.Handler,
		ReadHeaderTimeout: tunnelReadHeaderTimeout,
		IdleTimeout:       tunnelIdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if rc := a.cfg.RelayClient; rc != nil {
		rc.use(l) // before up: a caller told of the tunnel may use it at once
		defer rc.use(nil)
	}
	up(publicURL)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		srv.Close() // closes l, and so every stream
		<-served
		return ctx.Err()
	case err := <-served:
		srv.Close()
		if reason := l.Err(); reason != nil {
			return fmt.Errorf("%w: %w", ErrClosed, reason)
		}
		return err
	}
}

// dial performs the handshake and starts yamux on the WebSocket. With
// check, it only tests the credentials: a relay that knows HeaderCheck
// answers 200 and l is nil; an older one upgrades.
func (a *agent) dial(ctx context.Context, check bool) (l *link, publicURL string, err error) {
	header := http.Header{}
	if check {
		header.Set(HeaderCheck, "1")
	}
	header.Set("Authorization", "Bearer "+a.cfg.Token)
	header.Set(HeaderMachine, a.cfg.MachineCode)
	if a.cfg.Version != "" {
		header.Set(HeaderVersion, a.cfg.Version)
		header.Set("User-Agent", "casefleet-agent/"+a.cfg.Version)
	}

	dialCtx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	var raw *corkConn
	client := corkingClient(func(c *corkConn) { raw = c })
	defer client.CloseIdleConnections()
	ws, resp, err := websocket.Dial(dialCtx, a.endpoint, &websocket.DialOptions{
		HTTPClient:      client,
		HTTPHeader:      header,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if check && resp != nil && resp.StatusCode == http.StatusOK {
			publicURL, perr := parsePublicURL(resp.Header.Get(HeaderPublicURL))
			if perr != nil {
				a.logger.Warn("relay announced an unusable public URL", "err", perr)
			}
			return nil, publicURL, nil
		}
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			var body []byte
			if resp.Body != nil {
				body = readAtMost(resp.Body, 1024)
			}
			return nil, "", parseRefusal(resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		return nil, "", fmt.Errorf("dial relay %s: %w", a.endpoint, err)
	}

	publicURL, err = parsePublicURL(resp.Header.Get(HeaderPublicURL))
	if err != nil {
		// Not worth losing the tunnel over: print-file URLs may also come
		// from the agent's own setting.
		a.logger.Warn("relay announced an unusable public URL", "err", err)
		publicURL = ""
	}
	l, err = newLink(ws, linkConfig{server: true, keepAlive: a.cfg.KeepAlive, logger: a.logger, raw: raw, older: a.cfg.older})
	if err != nil {
		return nil, "", err
	}
	return l, publicURL, nil
}
