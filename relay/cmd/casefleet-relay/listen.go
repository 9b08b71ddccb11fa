package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"golang.org/x/sync/errgroup"

	"casefleet/relay/config"
	"casefleet/relay/https"
	"casefleet/relay/server"
)

// listeners are the relay's: listen (HTTPS when TLS is on), and with TLS
// the plain HTTP one (http_listen) for ACME challenges and redirects.
type listeners struct {
	cfg   config.Config
	log   *slog.Logger
	main  net.Listener
	plain net.Listener // nil without TLS, or with http_listen off
	front *https.Front // nil without TLS
}

// listen prepares TLS (reading an own certificate, so a bad one stops the
// relay here) and binds the listeners.
func listen(cfg config.Config, log *slog.Logger) (_ *listeners, err error) {
	l := &listeners{cfg: cfg, log: log}
	if cfg.TLS() {
		if l.front, err = https.New(cfg, log); err != nil {
			return nil, err
		}
	}
	if l.main, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if l.front != nil && cfg.HTTPListen != config.HTTPListenOff {
		if l.plain, err = net.Listen("tcp", cfg.HTTPListen); err != nil {
			l.main.Close()
			return nil, fmt.Errorf("http_listen: %w", err)
		}
	}
	return l, nil
}

// reloadTLS reads an own certificate again (SIGHUP).
func (l *listeners) reloadTLS() {
	if l.front != nil {
		l.front.Reload()
	}
}

// serve runs the relay on its listeners until ctx is done; with TLS, also
// the certificate's upkeep and the plain HTTP listener.
func (l *listeners) serve(ctx context.Context, srv *server.Server) error {
	if l.front == nil {
		return srv.Serve(ctx, l.main)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return l.front.Run(gctx) })
	if l.plain != nil {
		plain := &http.Server{
			Handler:           l.front.HTTPHandler(),
			ReadHeaderTimeout: l.cfg.ReadHeaderTimeout,
			ReadTimeout:       l.cfg.ReadHeaderTimeout,
			WriteTimeout:      l.cfg.ReadHeaderTimeout,
			IdleTimeout:       l.cfg.IdleTimeout,
			MaxHeaderBytes:    l.cfg.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(l.log.Handler(), slog.LevelDebug),
		}
		l.log.Info("plain HTTP: ACME challenges, and redirects to HTTPS", "http_listen", l.plain.Addr().String())
		g.Go(func() error {
			if err := plain.Serve(l.plain); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http_listen: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), l.cfg.ShutdownTimeout)
			defer cancel()
			if err := plain.Shutdown(sctx); err != nil {
				plain.Close()
			}
			return nil
		})
	}
	l.log.Info("HTTPS", "listen", l.main.Addr().String())
	g.Go(func() error { return srv.Serve(gctx, tls.NewListener(l.main, l.front.TLSConfig())) })
	return g.Wait()
}
