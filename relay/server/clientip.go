package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedLen bounds the X-Forwarded-For chain the relay keeps.
const maxForwardedLen = 1024

// origin is where a request came from, as far as the relay can tell.
type origin struct {
	client netip.Addr // the customer's address: for rate limits and the agent
	// chain is the X-Forwarded-For value to send on: the trusted part of
	// what came in, then the direct peer.
	chain string
	proto string // http or https, as the customer used
	host  string // the Host the customer asked for
	peer  bool   // the direct peer is trusted (a load balancer or a relay)
}

// originOf works out the origin of r. X-Forwarded-* headers are believed
// only from trusted peers; the client is the right-most address of the
// chain that is not a trusted proxy.
func originOf(r *http.Request, trusted []netip.Prefix) origin {
	remote := remoteAddr(r.RemoteAddr)
	o := origin{client: remote, chain: remote.String(), proto: "http", host: r.Host}
	if r.TLS != nil {
		o.proto = "https"
	}
	if !isTrusted(remote, trusted) {
		return o
	}
	o.peer = true
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		o.proto = p
	}
	if h := r.Header.Get("X-Forwarded-Host"); h != "" && len(h) <= 256 && !strings.ContainsAny(h, " ,\t") {
		o.host = h
	}
	hops := forwardedChain(r.Header.Values("X-Forwarded-For"))
	if len(hops) == 0 {
		return o
	}
	kept := make([]string, 0, len(hops)+1)
	for _, h := range hops {
		kept = append(kept, h.String())
	}
	if chain := strings.Join(append(kept, remote.String()), ", "); len(chain) <= maxForwardedLen {
		o.chain = chain
	}
	o.client = hops[0]
	for i := len(hops) - 1; i >= 0; i-- {
		if !isTrusted(hops[i], trusted) {
			o.client = hops[i]
			break
		}
	}
	return o
}

// forwardedChain parses X-Forwarded-For values; an unparsable entry
// voids everything before it, which is then no better than a guess.
func forwardedChain(values []string) []netip.Addr {
	var out []netip.Addr
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(part))
			if err != nil {
				out = out[:0]
				continue
			}
			out = append(out, a.Unmap())
			if len(out) > 32 {
				out = out[1:]
			}
		}
	}
	return out
}

func remoteAddr(addr string) netip.Addr {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
