//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// refProxyCommand is the subcommand under which tunnelbench runs, as a
// process of its own, the bench's reference proxy (see runRefProxy).
const refProxyCommand = "reference-proxy"

// runRefProxy serves on listen a stock HTTP reverse proxy to target:
// net/http's server, httputil.ReverseProxy and http.Transport over
// loopback TCP with keep-alive, and nothing else (no tunnel, no routing,
// no limits). It is what reading every request as HTTP costs a relay
// built from Go's standard parts, before any tunnel or logic of its own:
// the table sets the relay beside it as well as beside chisel, which
// only copies bytes.
func runRefProxy(listen, target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 256 // a connection to the agent per wrk connection, kept
	proxy := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		Transport: transport,
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
