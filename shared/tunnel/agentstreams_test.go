package tunnel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// relayGet sends GET path to the relay over the agent's own stream.
func relayGet(rc *RelayClient, path string, header ...string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://relay"+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := rc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// The agent asks the relay over its own streams of the tunnel: the
// relay's AgentHandler answers, knowing the agent by its tunnel (no
// credentials in the request); Range works, so a download resumes. With
// no tunnel the client says so at once, and it follows the agent across
// reconnections.
func TestAgentAsksTheRelayOverItsTunnel(t *testing.T) {
	f := newFleet(t)
	pkg := bytes.Repeat([]byte("package "), 1000)
	relay := startRelay(t, f.authenticator(), AcceptOptions{AgentHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := ConnFromContext(r.Context())
		if c == nil {
			http.Error(w, "no tunnel in the context", http.StatusInternalServerError)
			return
		}
		if r.URL.Path == "/pkg" {
			http.ServeContent(w, r, "pkg", time.Time{}, bytes.NewReader(pkg))
			return
		}
		fmt.Fprintf(w, "%s %s %s", c.Machine(), c.Version(), r.URL.Path)
	})})
	rc := NewRelayClient()
	if _, _, err := relayGet(rc, "/before"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("before any tunnel: %v, want ErrNotConnected", err)
	}
	states := startAgent(t, AgentConfig{RelayURL: relay.URL(), Token: f.token(t, "CT0700026"), Version: "v1.5.0",
		Handler: hello("kiosk"), RelayClient: rc, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})

	mark := 0
	for round := range 2 {
		conn := relay.nextConn(t)
		states.waitFor(t, mark, waitTimeout, "connected", isConnected)
		if status, body, err := relayGet(rc, "/relay/v1/update"); err != nil || status != 200 || body != "CT0700026 v1.5.0 /relay/v1/update" {
			t.Fatalf("round %d: agent's GET = %d %q %v", round, status, body, err)
		}
		status, body, err := relayGet(rc, "/pkg", "Range", "bytes=4000-")
		if err != nil || status != http.StatusPartialContent || body != string(pkg[4000:]) {
			t.Fatalf("round %d: ranged GET = %d, %d bytes, %v", round, status, len(body), err)
		}
		// The relay still reaches the agent as before.
		if status, body := get(t, &http.Client{Timeout: waitTimeout}, relay.URL()+"/hi"); status != 200 || body != "kiosk GET /hi" {
			t.Errorf("round %d: relay's GET = %d %q", round, status, body)
		}
		mark = states.mark()
		conn.Close()
		states.waitFor(t, mark, waitTimeout, "disconnected", isDisconnected)
	}
}

// A relay without an AgentHandler (as every relay before it) resets the
// agent's stream: the agent's request fails at once, and the tunnel
// carries on.
func TestARelayWithoutAgentHandlerRefusesTheAgentsStreams(t *testing.T) {
	f := newFleet(t)
	relay := startRelay(t, f.authenticator(), AcceptOptions{})
	rc := NewRelayClient()
	states := startAgent(t, AgentConfig{RelayURL: relay.URL(), Token: f.token(t, "CT0700026"), Handler: hello("kiosk"), RelayClient: rc})
	states.waitFor(t, 0, waitTimeout, "connected", isConnected)
	conn := relay.nextConn(t)
	start := time.Now()
	if _, _, err := relayGet(rc, "/relay/v1/update"); err == nil || errors.Is(err, ErrNotConnected) {
		t.Errorf("agent's GET to a relay that serves none = %v, want a failure of the request", err)
	}
	if d := time.Since(start); d > waitTimeout/2 {
		t.Errorf("the refusal took %v", d)
	}
	if err := conn.Alive(context.Background()); err != nil {
		t.Errorf("the tunnel is not alive after the refused stream: %v", err)
	}
}

// An agent that opens more streams than the relay serves at once gets
// the extra ones reset; those in service finish and the tunnel stays.
func TestTheRelayServesFewAgentStreamsAtOnce(t *testing.T) {
	f := newFleet(t)
	release := make(chan struct{})
	entered := make(chan struct{}, maxAgentStreams)
	relay := startRelay(t, f.authenticator(), AcceptOptions{AgentHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	})})
	rc := NewRelayClient()
	states := startAgent(t, AgentConfig{RelayURL: relay.URL(), Token: f.token(t, "CT0700026"), Handler: hello("kiosk"), RelayClient: rc})
	states.waitFor(t, 0, waitTimeout, "connected", isConnected)
	conn := relay.nextConn(t)

	held := make(chan error, maxAgentStreams)
	for range maxAgentStreams {
		go func() {
			_, _, err := relayGet(rc, "/hold")
			held <- err
		}()
	}
	for range maxAgentStreams {
		select {
		case <-entered:
		case <-time.After(waitTimeout):
			t.Fatal("the held requests did not all reach the handler")
		}
	}
	if _, _, err := relayGet(rc, "/one-too-many"); err == nil {
		t.Error("a stream over the limit was served")
	}
	close(release)
	for range maxAgentStreams {
		if err := <-held; err != nil {
			t.Errorf("a held request failed: %v", err)
		}
	}
	if status, body, err := relayGet(rc, "/after"); err != nil || status != 200 || !strings.Contains(body, "ok") {
		t.Errorf("after the held ones: %d %q %v", status, body, err)
	}
	select {
	case <-conn.Done():
		t.Fatalf("the tunnel went down: %v", conn.Err())
	default:
	}
}
