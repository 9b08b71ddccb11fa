package tunnel

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode"
)

// The relay's endpoint for agents and the handshake headers.
const (
	ConnectPath     = "/agent/connect"
	HeaderMachine   = "X-Casefleet-Machine"
	HeaderVersion   = "X-Casefleet-Version"
	HeaderPublicURL = "X-Casefleet-Public-Url"
	// HeaderCheck marks a handshake that only tests the credentials
	// (Check): a relay that answers checks (AcceptOptions.AnswerChecks)
	// says 200 without opening a tunnel, so a live one is neither
	// replaced nor in the way.
	HeaderCheck = "X-Casefleet-Check"
)

// ErrCheckOnly is Accept's error after it answered a Check: the
// credentials are good, and no tunnel was opened.
var ErrCheckOnly = errors.New("credentials checked; no tunnel opened")

// IsCheck reports whether r is a Check's handshake, which an
// Authenticator need not test for a live tunnel.
func IsCheck(r *http.Request) bool { return r.Header.Get(HeaderCheck) != "" }

// maxURLLen bounds the URLs of the handshake.
const maxURLLen = 2048

// maxMessageLen is the WebSocket read limit: a frame's 12-byte header and
// its body (at most one stream window) with room to spare; anything larger
// is not ours. Ends before batching send a frame's body as one message, so
// it must hold the largest body this end's window lets them send.
const maxMessageLen = streamWindow + 4<<10

// legacyMessageLen is the read limit of every version before streamWindow
// grew: no message sent is larger, so that those ends read them.
const legacyMessageLen = legacyWindow + 4<<10

// maxReasonLen bounds the refusal message shown to a technician.
const maxReasonLen = 300

// ErrClosed is wrapped by the errors of a tunnel that has gone down.
var ErrClosed = errors.New("tunnel closed")

// ErrUnavailable may be wrapped by an Authenticator's error when the relay
// cannot decide right now (its directory is down, say): the agent is then
// told to retry as after a network error, not that it was refused.
var ErrUnavailable = errors.New("relay temporarily unavailable")

// ErrAlreadyConnected may be wrapped by an Authenticator's error when
// another agent holds a live tunnel for the machine: the newcomer is
// refused with 409 machine_already_connected. One token is one kiosk; a
// second agent with it is a copied disk or a leaked token.
var ErrAlreadyConnected = errors.New("machine already connected")

// CodeAlreadyConnected is the refusal code of ErrAlreadyConnected.
const CodeAlreadyConnected = "machine_already_connected"

// RefusedError is the relay's answer when it did not upgrade the agent's
// connection: the HTTP status and the error body of the relay's API.
type RefusedError struct {
	Status  int    // HTTP status code
	Code    string // e.g. "token_expired"; empty if the answer was not ours
	Message string // readable by a technician
}

func (e *RefusedError) Error() string {
	return "relay refused the tunnel: " + e.Message
}

// permanent reports whether retrying soon is pointless: the relay objects
// to this agent's credentials or request, not to the moment.
func (e *RefusedError) permanent() bool {
	switch {
	case e.Status == http.StatusRequestTimeout, e.Status == http.StatusTooManyRequests:
		return false
	default:
		return e.Status >= 400 && e.Status < 500
	}
}

// errorBody is the error shape of every casefleet HTTP API.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeRefusal answers a refused handshake in the shape of the API.
func writeRefusal(w http.ResponseWriter, status int, code, message string) {
	var body errorBody
	body.Error.Code = code
	body.Error.Message = message
	b, _ := json.Marshal(body) // a struct of strings always marshals
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Del(HeaderPublicURL)
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// parseRefusal reads the relay's answer to a handshake it did not upgrade.
// The body may be ours (JSON error), a proxy's HTML page or anything else;
// what reaches the technician is always one clean line.
func parseRefusal(status int, contentType string, body []byte) *RefusedError {
	e := &RefusedError{Status: status}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error.Message != "" {
		e.Code = cleanLine(eb.Error.Code, 64)
		e.Message = cleanLine(eb.Error.Message, maxReasonLen)
		return e
	}
	e.Message = fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "text/plain" {
		first, _, _ := strings.Cut(string(body), "\n")
		if text := cleanLine(first, maxReasonLen); text != "" {
			e.Message += ": " + text
		}
	}
	return e
}

// cleanLine makes untrusted text safe to log and show: no control
// characters, no broken UTF-8, at most max bytes.
func cleanLine(s string, max int) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > max {
		s = s[:max]
		s = strings.ToValidUTF8(s, "") + "..."
	}
	return s
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header value.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// parsePublicURL checks the public base URL the relay announces, which the
// agent will hand to the printer: an absolute http(s) URL without
// credentials, query or fragment. An empty value means none was announced.
func parsePublicURL(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if len(s) > maxURLLen {
		return "", fmt.Errorf("public URL is %d bytes, at most %d", len(s), maxURLLen)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("public URL: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("public URL %q: want http:// or https://", s)
	}
	if u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("public URL %q: want a base URL: host and path only", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// readAtMost reads up to n bytes of r, ignoring errors: it is for bodies
// that only explain an error.
func readAtMost(r io.Reader, n int64) []byte {
	b, _ := io.ReadAll(io.LimitReader(r, n))
	return b
}
