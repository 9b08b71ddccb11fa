package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Go's HTTP server answers a request it cannot parse (malformed, headers
// over max_header_bytes, an unknown transfer coding, another HTTP version)
// itself, before any handler runs, with a plain-text body and no hook to
// change it. It writes each such answer to the connection in one Write, in
// exactly one of these forms:
//
//	HTTP/1.1 400 Bad Request<goErrorHeaders>400 Bad Request
//	HTTP/1.1 400 Bad Request: <why><goErrorHeaders>400 Bad Request: <why>
//	HTTP/1.1 431 Request Header Fields Too Large<goErrorHeaders>431 Request Header Fields Too Large
//	HTTP/1.1 501 Not Implemented<goErrorHeaders>Unsupported transfer encoding
//	HTTP/1.1 505 HTTP Version Not Supported: <why><goErrorHeaders>505 HTTP Version Not Supported: <why>
//
// protocolErrorConn recognises a Write that is one of these, whole, and
// sends the API's JSON error instead. Every other answer carries a Date
// header and is left alone. (What stays Go's own: the 417 with an empty
// body for an Expect other than 100-continue; see docs/relay.md.)
const goErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// protocolErrorListener hands out protocolErrorConns.
type protocolErrorListener struct{ net.Listener }

func (l protocolErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &protocolErrorConn{Conn: c}, nil
}

type protocolErrorConn struct{ net.Conn }

// tlsConnKey holds, in a request's context, the *tls.Conn under its
// protocolErrorConn: net/http sets r.TLS only when the connection itself is
// a *tls.Conn, and the wrapper hides it (see withTLS).
type tlsConnKey struct{}

// connContext remembers the TLS connection, if any, for withTLS.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if pc, ok := c.(*protocolErrorConn); ok {
		if tc, ok := pc.Conn.(*tls.Conn); ok {
			return context.WithValue(ctx, tlsConnKey{}, tc)
		}
	}
	return ctx
}

// withTLS fills in r.TLS for a request that came over the relay's own
// HTTPS (Serve on a TLS listener), so that the relay knows it as https:
// X-Forwarded-Proto to the agents, Secure cookies, the fleet page's
// same-origin check.
func withTLS(r *http.Request) {
	if r.TLS != nil {
		return
	}
	if tc, ok := r.Context().Value(tlsConnKey{}).(*tls.Conn); ok {
		st := tc.ConnectionState()
		r.TLS = &st
	}
}

func (c *protocolErrorConn) Write(p []byte) (int, error) {
	if out, ok := jsonProtocolError(p); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite passes on to a TCP connection: net/http half-closes after a
// 431 so that the client reads the answer before the reset.
func (c *protocolErrorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// protocolErrorCodes are the API's codes for Go's refusals.
var protocolErrorCodes = map[int]struct{ code, message string }{
	400: {"bad_request", "The request is not valid HTTP/1.1"},
	431: {"headers_too_large", "The request's headers are too large"},
	501: {"transfer_encoding_not_supported", "The request's Transfer-Encoding is not supported: only chunked is"},
	505: {"http_version_not_supported", "Only HTTP/1.1 (and 1.0) are served here"},
}

// jsonProtocolError returns the JSON answer for p if p is one of Go's own
// refusals, whole.
func jsonProtocolError(p []byte) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !ok {
		return nil, false
	}
	statusLine, body, ok := bytes.Cut(rest, []byte(goErrorHeaders))
	if !ok || len(statusLine) < 4 || statusLine[3] != ' ' {
		return nil, false
	}
	status, err := strconv.Atoi(string(statusLine[:3]))
	if err != nil {
		return nil, false
	}
	unsupportedTE := status == 501 && string(statusLine) == "501 Not Implemented" && string(body) == "Unsupported transfer encoding"
	if !unsupportedTE && !bytes.Equal(statusLine, body) {
		return nil, false
	}
	known, ok := protocolErrorCodes[status]
	if !ok {
		return nil, false
	}
	msg := known.message
	// Go's reason after the status text ("missing required Host
	// header") is a constant of net/http, never the client's bytes.
	if _, why, ok := strings.Cut(string(statusLine), ": "); ok {
		msg += ": " + cleanReason(why)
	}
	b, _ := json.Marshal(apiError{errorDetail{Code: known.code, Message: msg}})
	b = append(b, '\n')
	var out bytes.Buffer
	out.WriteString("HTTP/1.1 ")
	out.Write(statusLine[:3])
	out.WriteString(" ")
	out.WriteString(http.StatusText(status))
	out.WriteString("\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: ")
	out.WriteString(strconv.Itoa(len(b)))
	out.WriteString("\r\n\r\n")
	out.Write(b)
	return out.Bytes(), true
}

// cleanReason keeps printable ASCII only, at most 100 bytes.
func cleanReason(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return -1
		}
		return r
	}, s)
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}
