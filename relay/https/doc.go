// Package https lets the relay serve HTTPS by itself: a certificate
// obtained and renewed from an ACME CA (Let's Encrypt, or another such as a
// private step-ca or Pebble) with certmagic, answering HTTP-01 on the plain
// HTTP listener and TLS-ALPN-01 on the HTTPS one; or the operator's own
// certificate and key, reloaded when the files change and on SIGHUP. The
// plain HTTP listener answers the ACME challenge and sends everything else
// to HTTPS.
package https
