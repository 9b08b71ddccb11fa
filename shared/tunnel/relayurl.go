package tunnel

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// connectURL turns the relay's base URL from the agent's configuration
// into the URL of its agent endpoint. Plain http is only allowed to a
// relay on this machine: the token would otherwise cross the network in
// clear text.
func connectURL(relayURL string) (string, error) {
	if relayURL == "" {
		return "", fmt.Errorf("relay URL is empty: set relay.url to the relay's https:// address")
	}
	if len(relayURL) > maxURLLen {
		return "", fmt.Errorf("relay URL is %d bytes, at most %d", len(relayURL), maxURLLen)
	}
	u, err := url.Parse(relayURL)
	if err != nil {
		return "", fmt.Errorf("relay URL: %w", err)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("relay URL %q: plain http:// is only allowed to a relay on this machine (127.0.0.1, ::1, localhost); use https://", relayURL)
		}
	default:
		return "", fmt.Errorf("relay URL %q: want https://host[:port][/path]", relayURL)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("relay URL %q has no host", relayURL)
	}
	if u.User != nil {
		return "", fmt.Errorf("relay URL %q must not carry a user or password; the enrollment token is a setting of its own", relayURL)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("relay URL %q: want a base URL without query or fragment", relayURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + ConnectPath
	u.RawPath = ""
	return u.String(), nil
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
