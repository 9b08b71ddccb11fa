package https

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"casefleet/relay/config"
)

// Front is the relay's TLS: the certificate its HTTPS listener serves,
// and the handler of its plain HTTP listener.
type Front struct {
	cfg  config.Config
	log  *slog.Logger
	tls  *tls.Config
	acme *acmeCerts // with tls_domain
	own  *ownCert   // with tls_cert and tls_key
}

// New prepares the relay's TLS from cfg, which must have passed Validate
// and have TLS on. Its own certificate is read here, so a missing or bad
// file stops the relay at start; an ACME certificate is obtained by Run,
// in the background.
func New(cfg config.Config, log *slog.Logger) (*Front, error) {
	if !cfg.TLS() {
		return nil, errors.New("https: neither tls_domain nor tls_cert is set")
	}
	f := &Front{cfg: cfg, log: log.With("component", "tls")}
	var getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	protos := []string{"http/1.1"}
	if cfg.ACME() {
		a, err := newACME(cfg, f.log)
		if err != nil {
			return nil, err
		}
		f.acme = a
		tc := a.magic.TLSConfig()
		getCert = tc.GetCertificate
		protos = append(protos, tc.NextProtos...) // acme-tls/1, for TLS-ALPN-01
	} else {
		o, err := loadOwnCert(cfg.TLSCert, cfg.TLSKey, f.log)
		if err != nil {
			return nil, err
		}
		f.own = o
		getCert = o.get
	}
	// HTTP/1.1 only: WebSockets (the agents' tunnels, the phones' event
	// streams) upgrade from it.
	f.tls = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     protos,
		GetCertificate: getCert,
	}
	return f, nil
}

// TLSConfig is the configuration of the HTTPS listener.
func (f *Front) TLSConfig() *tls.Config { return f.tls }

// Run obtains and renews the ACME certificate, or watches the own
// certificate's files for changes, until ctx is done. A CA that cannot be
// reached does not stop the relay: it serves the certificate it has in
// its cache (none on a first start), logs each failure, and tries again
// with a growing delay.
func (f *Front) Run(ctx context.Context) error {
	if f.acme != nil {
		return f.acme.run(ctx)
	}
	t := time.NewTicker(f.cfg.TLSRenewCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if f.own.changed() {
				f.Reload()
			}
		}
	}
}

// Reload reads the own certificate and key again (on SIGHUP); a pair that
// does not load is logged and the previous one stays. With ACME there is
// nothing to reload.
func (f *Front) Reload() {
	if f.own == nil {
		f.log.Info("SIGHUP: the ACME certificate is renewed by itself; nothing to reload")
		return
	}
	if err := f.own.reload(); err != nil {
		f.log.Error("TLS certificate does not load; keeping the previous one", "err", err)
	}
}

// HTTPHandler serves the plain HTTP listener: the ACME HTTP-01 challenge,
// and a permanent redirect to HTTPS for everything else (308, so a POST
// stays a POST).
func (f *Front) HTTPHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.acme != nil && f.acme.issuer.HandleHTTPChallenge(w, r) {
			return
		}
		base, ok := f.httpsBase(r)
		if !ok {
			http.Error(w, "This address serves HTTPS only.", http.StatusBadRequest)
			return
		}
		w.Header().Set("Connection", "close")
		http.Redirect(w, r, base+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}

// httpsBase is where a plain HTTP request is sent: public_url when it is
// https://, else this relay's domain (or the request's host, with an own
// certificate) on the HTTPS port.
func (f *Front) httpsBase(r *http.Request) (string, bool) {
	if u, err := url.Parse(f.cfg.PublicURL); err == nil && u.Scheme == "https" && u.Host != "" {
		return "https://" + u.Host, true
	}
	host := f.cfg.TLSDomain
	if host == "" {
		host = r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		if host == "" || len(host) > 253 || strings.ContainsFunc(host, func(c rune) bool {
			return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':')
		}) {
			return "", false
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	if _, port, err := net.SplitHostPort(f.cfg.Listen); err == nil && port != "443" {
		host = net.JoinHostPort(strings.Trim(host, "[]"), port)
	}
	return "https://" + host, true
}

func portOf(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	port, err := net.LookupPort("tcp", p)
	if err != nil {
		return 0, fmt.Errorf("port of %q: %w", addr, err)
	}
	return port, nil
}
