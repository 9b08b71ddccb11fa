package https

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ownCert is the operator's certificate and key, read from files.
type ownCert struct {
	certFile, keyFile string
	log               *slog.Logger
	cur               atomic.Pointer[tls.Certificate]

	mu    sync.Mutex // serialises reloads; guards stamp
	stamp string     // the files' sizes and times when last read
}

func loadOwnCert(certFile, keyFile string, log *slog.Logger) (*ownCert, error) {
	o := &ownCert{certFile: certFile, keyFile: keyFile, log: log}
	if err := o.reload(); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *ownCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return o.cur.Load(), nil }

// reload reads both files; on success the pair serves the next handshakes.
func (o *ownCert) reload() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	stamp := o.filesStamp()
	pair, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
	if err != nil {
		return fmt.Errorf("tls_cert %s, tls_key %s: %w", o.certFile, o.keyFile, err)
	}
	leaf := pair.Leaf // parsed by LoadX509KeyPair
	o.cur.Store(&pair)
	o.stamp = stamp
	attrs := []any{"file", o.certFile, "names", leaf.DNSNames, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339)}
	if now := time.Now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		o.log.Error("TLS certificate is not valid now: browsers and agents will refuse it", attrs...)
	} else {
		o.log.Info("TLS certificate loaded", attrs...)
	}
	return nil
}

// changed reports whether either file changed since it was last read.
func (o *ownCert) changed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.filesStamp() != o.stamp
}

func (o *ownCert) filesStamp() string {
	s := ""
	for _, f := range []string{o.certFile, o.keyFile} {
		if fi, err := os.Stat(f); err == nil {
			s += fmt.Sprintf("%d.%d;", fi.Size(), fi.ModTime().UnixNano())
		} else {
			s += "missing;"
		}
	}
	return s
}
