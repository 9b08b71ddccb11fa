package tunnel

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"casefleet/shared/enroll"
)

func TestAcceptRefusals(t *testing.T) {
	f := newFleet(t)
	relay := startRelay(t, f.authenticator(), AcceptOptions{PublicURL: "https://relay.example"})
	token := f.token(t, "CT0700026")
	upgrade := map[string]string{
		"Connection":            "Upgrade",
		"Upgrade":               "websocket",
		"Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key":     "dGhlIHNhbXBsZSBub25jZQ==",
	}
	with := func(extra ...string) map[string]string {
		h := map[string]string{}
		for k, v := range upgrade {
			h[k] = v
		}
		for i := 0; i+1 < len(extra); i += 2 {
			if extra[i+1] == "" {
				delete(h, extra[i])
			} else {
				h[extra[i]] = extra[i+1]
			}
		}
		return h
	}

	tests := []struct {
		name   string
		method string
		header map[string]string
		status int
		code   string // empty: not our JSON (websocket.Accept's own answer)
	}{
		{"plain GET", "GET", nil, 426, "websocket_required"},
		{"POST with upgrade headers", "POST", with(HeaderMachine, "CT0700026", "Authorization", "Bearer "+token), 426, "websocket_required"},
		{"no machine code", "GET", with("Authorization", "Bearer "+token), 400, "invalid_machine"},
		{"hostile machine code", "GET", with(HeaderMachine, "../../etc", "Authorization", "Bearer "+token), 400, "invalid_machine"},
		{"no token", "GET", with(HeaderMachine, "CT0700026"), 401, "missing_token"},
		{"basic auth", "GET", with(HeaderMachine, "CT0700026", "Authorization", "Basic Zm9vOmJhcg=="), 401, "missing_token"},
		{"empty bearer", "GET", with(HeaderMachine, "CT0700026", "Authorization", "Bearer "), 401, "missing_token"},
		{"garbage token", "GET", with(HeaderMachine, "CT0700026", "Authorization", "Bearer garbage"), 401, "token_malformed"},
		{"oversized token", "GET", with(HeaderMachine, "CT0700026", "Authorization", "Bearer cf1."+strings.Repeat("A", 10000)), 401, "token_malformed"},
		{"token for another machine", "GET", with(HeaderMachine, "CT0700027", "Authorization", "Bearer "+token), 403, "wrong_machine"},
		{"no WebSocket key", "GET", with(HeaderMachine, "CT0700026", "Authorization", "Bearer "+token, "Sec-WebSocket-Key", ""), 400, ""},
		{"old WebSocket version", "GET", with(HeaderMachine, "CT0700026", "Authorization", "Bearer "+token, "Sec-WebSocket-Version", "8"), 400, ""},
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: waitTimeout}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, relay.URL()+ConnectPath, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.code == "" {
				return
			}
			if resp.Header.Get(HeaderPublicURL) != "" {
				t.Error("a refusal announces the public URL")
			}
			var body errorBody
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("body is not the API's JSON error: %v", err)
			}
			if body.Error.Code != tt.code || body.Error.Message == "" {
				t.Errorf("error = %+v, want code %q and a message", body.Error, tt.code)
			}
		})
	}
}

func TestAcceptWithoutAuthenticatorRefuses(t *testing.T) {
	relay := startRelay(t, nil, AcceptOptions{})
	resp, err := http.Get(relay.URL() + ConnectPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", resp.StatusCode)
	}
}

// TestAcceptSurvivesHostileInput throws 1,000 bad requests and broken
// tunnels at the agent endpoint: every one ends cleanly, and nothing is
// left running.
func TestAcceptSurvivesHostileInput(t *testing.T) {
	f := newFleet(t)
	relay := startRelay(t, f.authenticator(), AcceptOptions{})
	token := f.token(t, "CT0700026")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: waitTimeout}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// dial opens an authenticated tunnel from the test, as a rogue agent.
	dial := func() (*websocket.Conn, *Conn) {
		t.Helper()
		ws, _, err := websocket.Dial(ctx, relay.URL()+ConnectPath, &websocket.DialOptions{HTTPHeader: http.Header{
			"Authorization": {"Bearer " + token},
			HeaderMachine:   {"CT0700026"},
		}})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		return ws, relay.nextConn(t)
	}
	// brokenTunnel sends msgs and expects the relay to drop the tunnel.
	// The rogue agent keeps reading, so that it answers the close
	// handshake; one that does not is dropped after the WebSocket
	// library's handshake timeout (10 s) instead.
	brokenTunnel := func(typ websocket.MessageType, msgs ...[]byte) error {
		ws, conn := dial()
		defer ws.CloseNow()
		go func() {
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					return
				}
			}
		}()
		for _, m := range msgs {
			ws.Write(ctx, typ, m) // may fail once the relay has hung up
		}
		select {
		case <-conn.Done():
			return nil
		case <-time.After(waitTimeout):
			return fmt.Errorf("relay kept a tunnel after %d %v messages", len(msgs), typ)
		}
	}

	cases := []func() error{
		func() error { return expectStatus(client, "GET", relay.URL()+ConnectPath, nil, 426) },
		func() error {
			return expectStatus(client, "GET", relay.URL()+ConnectPath, http.Header{"Connection": {"upgrade"}, "Upgrade": {"websocket"}}, 400)
		},
		func() error {
			return expectStatus(client, "GET", relay.URL()+ConnectPath, http.Header{"Connection": {"upgrade"}, "Upgrade": {"websocket"}, HeaderMachine: {"CT0700026"}}, 401)
		},
		func() error {
			return rawRequest(relay.addr, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage that is not HTTP\r\n\r\n")
		},
		func() error { return brokenTunnel(websocket.MessageBinary, []byte("\xffnot yamux at all")) },
		func() error { return brokenTunnel(websocket.MessageText, []byte("text is not ours")) },
		func() error {
			// A message over the read limit, made of a full window of data
			// for a stream and then more.
			oversized := append(yamuxHeader(0, 0, 1, streamWindow), make([]byte, maxMessageLen)...)
			return brokenTunnel(websocket.MessageBinary, yamuxHeader(1, 1, 1, 0), oversized)
		},
		func() error {
			// A stream opened by the agent, then a frame far beyond the
			// stream's window: a protocol error.
			return brokenTunnel(websocket.MessageBinary,
				yamuxHeader(1, 1, 1, 0), yamuxHeader(0, 0, 1, 1<<30), make([]byte, 1000))
		},
	}

	// Warm up every path once, so that lazily started goroutines of the
	// runtime and net/http are part of the baseline.
	for _, c := range cases {
		if err := c(); err != nil {
			t.Fatal(err)
		}
	}
	client.CloseIdleConnections()
	baseline := runtime.NumGoroutine()

	for i := range 1000 {
		if err := cases[i%len(cases)](); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	// The endpoint still works.
	ws, conn := dial()
	ws.Close(websocket.StatusNormalClosure, "")
	<-conn.Done()

	client.CloseIdleConnections()
	waitGoroutines(t, baseline)
}

// yamuxHeader encodes a yamux frame header.
func yamuxHeader(typ byte, flags uint16, stream, length uint32) []byte {
	h := make([]byte, 12)
	h[1] = typ
	binary.BigEndian.PutUint16(h[2:], flags)
	binary.BigEndian.PutUint32(h[4:], stream)
	binary.BigEndian.PutUint32(h[8:], length)
	return h
}

func expectStatus(client *http.Client, method, url string, header http.Header, want int) error {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return err
	}
	req.Header = header
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d", method, url, resp.StatusCode, want)
	}
	return nil
}

// rawRequest sends bytes that are not HTTP and expects the server to
// answer with an error and hang up.
func rawRequest(addr, payload string) error {
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := io.WriteString(c, payload); err != nil {
		return err
	}
	answer, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("server neither answered nor hung up: %w", err)
		}
	}
	if !strings.HasPrefix(string(answer), "HTTP/1.1 400") {
		return fmt.Errorf("answer to garbage: %.60q", answer)
	}
	return nil
}

func TestAuthenticatorErrorsMapToStatus(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("x: %w", enroll.ErrExpired), 401, "token_expired"},
		{enroll.ErrNotYetValid, 401, "token_not_yet_valid"},
		{enroll.ErrBadSignature, 401, "token_invalid"},
		{enroll.ErrMalformed, 401, "token_malformed"},
		{enroll.ErrRevoked, 403, "token_revoked"},
		{enroll.ErrWrongMachine, 403, "wrong_machine"},
		{fmt.Errorf("redis: %w", ErrUnavailable), 503, "unavailable"},
		{errors.New("not on the allow list"), 403, "forbidden"},
	}
	for _, tt := range tests {
		status, code := refusalFor(tt.err)
		if status != tt.status || code != tt.code {
			t.Errorf("refusalFor(%v) = %d %q, want %d %q", tt.err, status, code, tt.status, tt.code)
		}
	}
}
