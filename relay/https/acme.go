package https

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/caddyserver/certmagic"

	"casefleet/relay/config"
)

// acmeCerts is a certificate for tls_domain from an ACME CA, kept in
// tls_cache_dir and renewed by certmagic.
type acmeCerts struct {
	domain string
	log    *slog.Logger
	cache  *certmagic.Cache
	magic  *certmagic.Config
	issuer *certmagic.ACMEIssuer
}

func newACME(cfg config.Config, log *slog.Logger) (*acmeCerts, error) {
	dir, err := CacheDir(cfg.TLSCacheDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tls_cache_dir: %w", err)
	}
	var roots *x509.CertPool
	if cfg.ACMECARoot != "" {
		pem, err := os.ReadFile(cfg.ACMECARoot)
		if err != nil {
			return nil, fmt.Errorf("acme_ca_root: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("acme_ca_root: %s holds no PEM certificate", cfg.ACMECARoot)
		}
	}
	httpPort, err := portOf(cfg.HTTPListen)
	if err != nil && cfg.HTTPListen != config.HTTPListenOff {
		return nil, fmt.Errorf("http_listen: %w", err)
	}
	tlsPort, err := portOf(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	host, _, _ := net.SplitHostPort(cfg.Listen)

	a := &acmeCerts{domain: cfg.TLSDomain, log: log}
	zl := newZapLogger(log)
	var magic *certmagic.Config
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return magic, nil },
		RenewCheckInterval: cfg.TLSRenewCheck,
		Logger:             zl,
	})
	magic = certmagic.New(a.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: dir},
		Logger:  zl,
		OnEvent: a.onEvent,
	})
	a.magic = magic
	a.issuer = certmagic.NewACMEIssuer(magic, certmagic.ACMEIssuer{
		CA:     cfg.ACMECA,
		Email:  cfg.ACMEEmail,
		Agreed: true,
		// The challenges are answered by the relay's own listeners: HTTP-01
		// by http_listen's handler, TLS-ALPN-01 by the HTTPS listener's
		// certificate lookup. certmagic binds these ports itself only when
		// they are free, which they are not while the relay runs.
		DisableHTTPChallenge:    !slices.Contains(cfg.ACMEChallenge, "http-01") || cfg.HTTPListen == config.HTTPListenOff,
		DisableTLSALPNChallenge: !slices.Contains(cfg.ACMEChallenge, "tls-alpn-01"),
		ListenHost:              host,
		AltHTTPPort:             httpPort,
		AltTLSALPNPort:          tlsPort,
		TrustedRoots:            roots,
		Logger:                  zl,
	})
	magic.Issuers = []certmagic.Issuer{a.issuer}
	log.Info("TLS certificate by ACME", "domain", cfg.TLSDomain, "ca", cfg.ACMECA, "cache_dir", dir, "challenges", strings.Join(cfg.ACMEChallenge, ","))
	return a, nil
}

// run manages the certificate until ctx is done.
func (a *acmeCerts) run(ctx context.Context) error {
	defer a.cache.Stop()
	if err := a.magic.ManageAsync(ctx, []string{a.domain}); err != nil {
		return fmt.Errorf("manage the certificate of %s: %w", a.domain, err)
	}
	<-ctx.Done()
	return nil
}

// onEvent says at Info what an operator wants to know of certmagic's
// work: a certificate obtained or renewed, or a failure to.
func (a *acmeCerts) onEvent(_ context.Context, event string, data map[string]any) error {
	switch event {
	case "cert_obtained":
		if renewal, _ := data["renewal"].(bool); renewal {
			a.log.Info("TLS certificate renewed", "domain", data["identifier"], "issuer", data["issuer"])
		} else {
			a.log.Info("TLS certificate obtained", "domain", data["identifier"], "issuer", data["issuer"])
		}
	case "cert_failed":
		a.log.Error("TLS certificate not obtained from the ACME CA; trying again later", "domain", data["identifier"],
			"renewal", data["renewal"], "err", data["error"])
	case "cached_managed_cert":
		a.log.Info("TLS certificate in use", "domain", a.domain)
	}
	return nil
}

// CacheDir is tls_cache_dir, or its default: $STATE_DIRECTORY/acme (the
// StateDirectory of a systemd unit), else ~/.local/share/casefleet-relay/acme.
func CacheDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if sd := os.Getenv("STATE_DIRECTORY"); sd != "" {
		first, _, _ := strings.Cut(sd, ":")
		return filepath.Join(first, "acme"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("tls_cache_dir is not set and there is no home directory for its default: %w", err)
	}
	return filepath.Join(home, ".local", "share", "casefleet-relay", "acme"), nil
}
