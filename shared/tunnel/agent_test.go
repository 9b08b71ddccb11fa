package tunnel

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRunAgentRefusesBadConfig(t *testing.T) {
	good := AgentConfig{
		RelayURL:    "https://relay.example.com",
		MachineCode: "CT0700026",
		Token:       "cf1.x.y",
		Handler:     http.NotFoundHandler(),
	}
	tests := []struct {
		name   string
		change func(*AgentConfig)
		want   string
	}{
		{"plain http to a remote relay", func(c *AgentConfig) { c.RelayURL = "http://relay.example.com" }, "plain http:// is only allowed"},
		{"no relay", func(c *AgentConfig) { c.RelayURL = "" }, "relay URL is empty"},
		{"bad machine code", func(c *AgentConfig) { c.MachineCode = "printer-1" }, "invalid machine code"},
		{"no token", func(c *AgentConfig) { c.Token = "" }, "no enrollment token"},
		{"token with a newline", func(c *AgentConfig) { c.Token = "cf1.x\r\nX-Evil: 1" }, "printable ASCII"},
		{"no handler", func(c *AgentConfig) { c.Handler = nil }, "no Handler"},
		{"backoff upside down", func(c *AgentConfig) { c.MinBackoff, c.MaxBackoff = time.Minute, time.Second }, "below MinBackoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			// The context is live: RunAgent must return at once on its own.
			err := RunAgent(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("RunAgent = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func TestRunAgentKeepsTryingAnUnreachableRelay(t *testing.T) {
	// A port nothing listens on: connection refused, every time.
	relay := startRelay(t, nil, AcceptOptions{})
	addr := relay.URL()
	relay.stop()

	ctx, cancel := context.WithCancel(context.Background())
	states := newStateLog()
	done := make(chan error, 1)
	go func() {
		done <- RunAgent(ctx, AgentConfig{
			RelayURL: addr, MachineCode: "CT0700026", Token: "cf1.x.y", Handler: http.NotFoundHandler(),
			MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
			Logger: testLogger(t), OnState: states.record,
		})
	}()
	first := states.waitFor(t, 0, waitTimeout, "a failure", isDisconnected)
	states.waitFor(t, 3, waitTimeout, "more failures", isDisconnected)
	if first.Rejected || first.Err == nil || !strings.Contains(first.Err.Error(), "dial relay") {
		t.Errorf("state = %+v, want a dial error that is not a rejection", first)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunAgent = %v, want nil after its context ended", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("RunAgent did not return after its context ended")
	}
}
