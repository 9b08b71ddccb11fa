package push

import (
	"bytes"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
)

// ErrInvalidSubscription wraps every reason ParseSubscription and
// CheckEndpoint refuse a subscription (400).
var ErrInvalidSubscription = errors.New("invalid push subscription")

// Limits of a subscription.
const (
	maxSubscriptionBytes = 4 << 10
	maxEndpointBytes     = 2048
)

// Subscription is where and how to reach one browser.
type Subscription struct {
	Endpoint string // the push service's URL for this browser
	P256DH   []byte // the browser's public key, 65 bytes
	Auth     []byte // the shared authentication secret, 16 bytes
	Lang     string // the language notices are written in (one of Languages)
}

// subscriptionJSON is what PushSubscription.toJSON() gives in browsers,
// plus the page's language.
type subscriptionJSON struct {
	Endpoint       string   `json:"endpoint"`
	ExpirationTime *float64 `json:"expirationTime"`
	Keys           struct {
		P256DH string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
	Lang string `json:"lang"`
}

// ParseSubscription reads a subscription as the web app posts it:
//
//	{"endpoint": "https://…", "expirationTime": null,
//	 "keys": {"p256dh": "<base64url>", "auth": "<base64url>"}, "lang": "fr"}
//
// It is strict: one JSON object of at most 4 KiB with no unknown fields,
// an absolute http(s) endpoint of at most 2 KiB without credentials or
// fragment, p256dh a point on P-256 and auth 16 bytes. An unknown or
// missing lang becomes English. Where the endpoint may point is a separate
// rule (CheckEndpoint).
func ParseSubscription(b []byte) (Subscription, error) {
	if len(b) > maxSubscriptionBytes {
		return Subscription{}, fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidSubscription, len(b), maxSubscriptionBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var in subscriptionJSON
	if err := dec.Decode(&in); err != nil {
		return Subscription{}, fmt.Errorf("%w: %w", ErrInvalidSubscription, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Subscription{}, fmt.Errorf("%w: data after the JSON object", ErrInvalidSubscription)
	}
	if _, err := parseEndpoint(in.Endpoint); err != nil {
		return Subscription{}, err
	}
	p256dh, err := decodeKey(in.Keys.P256DH)
	if err != nil {
		return Subscription{}, fmt.Errorf("%w: keys.p256dh: %w", ErrInvalidSubscription, err)
	}
	if _, err := ecdh.P256().NewPublicKey(p256dh); err != nil {
		return Subscription{}, fmt.Errorf("%w: keys.p256dh is not a P-256 public key", ErrInvalidSubscription)
	}
	auth, err := decodeKey(in.Keys.Auth)
	if err != nil || len(auth) != authSize {
		return Subscription{}, fmt.Errorf("%w: keys.auth must be 16 bytes of base64url", ErrInvalidSubscription)
	}
	return Subscription{Endpoint: in.Endpoint, P256DH: p256dh, Auth: auth, Lang: language(in.Lang)}, nil
}

// decodeKey reads base64url, padded or not (browsers send it unpadded).
func decodeKey(s string) ([]byte, error) {
	if len(s) > 200 {
		return nil, errors.New("too long")
	}
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// parseEndpoint checks the form of an endpoint URL.
func parseEndpoint(raw string) (*url.URL, error) {
	if raw == "" || len(raw) > maxEndpointBytes {
		return nil, fmt.Errorf("%w: endpoint must be a URL of at most %d bytes", ErrInvalidSubscription, maxEndpointBytes)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: endpoint: %w", ErrInvalidSubscription, err)
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "", u.Opaque != "":
		return nil, fmt.Errorf("%w: endpoint must be an absolute https URL", ErrInvalidSubscription)
	case u.User != nil || u.Fragment != "" || strings.ContainsAny(raw, " \t\r\n\\"):
		return nil, fmt.Errorf("%w: endpoint must not carry credentials, a fragment or spaces", ErrInvalidSubscription)
	}
	return u, nil
}

// DefaultPushServices are the push services of the browsers customers
// use: Chrome and most Android browsers, Firefox, Safari and Edge. A
// leading dot matches any subdomain.
func DefaultPushServices() []string {
	return []string{"fcm.googleapis.com", ".push.services.mozilla.com", ".push.apple.com", ".notify.windows.com"}
}

// CheckEndpoint enforces where notices may be sent: https to a host in
// allowed (an entry with a leading dot matches its subdomains). Plain http
// is allowed only to a loopback address that allowed names, for tests.
func CheckEndpoint(raw string, allowed []string) error {
	u, err := parseEndpoint(raw)
	if err != nil {
		return err
	}
	host := strings.ToLower(u.Hostname())
	ok := slices.ContainsFunc(allowed, func(a string) bool {
		a = strings.ToLower(a)
		if strings.HasPrefix(a, ".") {
			return strings.HasSuffix(host, a) // subdomains only
		}
		return host == a
	})
	if !ok {
		return fmt.Errorf("%w: endpoint host %.100q is not a known push service", ErrInvalidSubscription, host)
	}
	if u.Scheme == "http" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("%w: endpoint must use https", ErrInvalidSubscription)
		}
	}
	if p := u.Port(); p != "" && u.Scheme == "https" && p != "443" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("%w: endpoint must use the standard https port", ErrInvalidSubscription)
		}
	}
	return nil
}
