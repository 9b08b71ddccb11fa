package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"casefleet/relay/relaytest"
	"casefleet/shared/tunnel"
)

// TestOneKioskPerIdentity: a second agent with a machine's token is
// refused (409 machine_already_connected, counted) while the machine's
// tunnel answers pings, and backs off; the customers stay with the first.
// Once the first one's link dies silently, the second gets in at its next
// attempt.
func TestOneKioskPerIdentity(t *testing.T) {
	f := relaytest.NewFleet(t)
	cfg := f.Config(t)
	cfg.KeepAlive = time.Hour // the relay must not find the dead link by itself here
	relay := relaytest.StartRelay(t, cfg)
	token := f.Token(t, "CT0700026", "mall-3f")

	link := relaytest.StartFaultProxy(t, relay.Addr)
	first := relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: link.URL(), Code: "CT0700026", Token: token,
		Handler: relaytest.Echo("first"), KeepAlive: time.Hour})
	relaytest.WaitRoutable(t, relay.URL, "CT0700026")

	const maxBackoff = 500 * time.Millisecond
	clone := relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: relay.URL, Code: "CT0700026", Token: token,
		Handler: relaytest.Echo("clone"), MinBackoff: time.Millisecond, MaxBackoff: maxBackoff})
	s := clone.WaitState(t, "refused", relaytest.Refused(tunnel.CodeAlreadyConnected))
	refusedAt, seen := time.Now(), clone.Changes()
	var re *tunnel.RefusedError
	if !errors.As(s.Err, &re) || re.Status != 409 || !strings.Contains(re.Message, "CT0700026 is connected already") {
		t.Errorf("refusal = %+v, want 409 saying the machine is connected already", s.Err)
	}
	// It backs off as from any refusal, about MaxBackoff, not MinBackoff.
	relaytest.Eventually(t, relaytest.Wait, "the clone tries again", func() bool { return clone.Changes() > seen })
	if gap := time.Since(refusedAt); gap < maxBackoff/2 {
		t.Errorf("the clone tried again %v after its refusal, want at least %v", gap, maxBackoff/2)
	}
	for range 5 {
		if _, _, body := do(t, "GET", relay.URL+api+"CT0700026/x", nil); !strings.HasPrefix(body, "first ") {
			t.Fatalf("a customer's request was answered by %q, want the first kiosk", body)
		}
	}
	if n, _ := metricValue(scrape(t, relay.URL, ""), "casefleet_relay_tunnel_refusals_total", "reason", tunnel.CodeAlreadyConnected); n < 1 {
		t.Errorf("refusals_total{reason=machine_already_connected} = %v, want at least 1", n)
	}
	// `casefleet-agent doctor` on the kiosk tests its token while the
	// agent is connected: accepted, and the live tunnel is left alone.
	ctx, cancel := context.WithTimeout(context.Background(), relaytest.Wait)
	defer cancel()
	if public, err := tunnel.Check(ctx, relay.URL, "CT0700026", token, "doctor"); err != nil || public != relay.URL {
		t.Errorf("Check while connected = %q, %v; want the public URL and no error", public, err)
	}
	if _, _, body := do(t, "GET", relay.URL+api+"CT0700026/x", nil); !strings.HasPrefix(body, "first ") {
		t.Errorf("after a Check, answered by %q, want the first kiosk", body)
	}

	// The first kiosk's link goes silent (half-open): the next attempt
	// replaces it at once.
	link.Stall()
	clone.WaitState(t, "admitted once the first is dead", relaytest.Connected)
	relaytest.Eventually(t, relaytest.Wait, "requests served by the newcomer", func() bool {
		_, _, body := do(t, "GET", relay.URL+api+"CT0700026/x", nil)
		return strings.HasPrefix(body, "clone ")
	})
	select {
	case <-link.UpstreamClosed:
	case <-time.After(relaytest.Wait):
		t.Fatal("the relay kept the dead tunnel open")
	}
	first.Stop()
}

// TestOneKioskPerIdentityAcrossRelays: the machine's tunnel is on relay
// A; a second agent with its token at relay B is refused too (B asks A,
// which pings its tunnel). When A's tunnel is dead, B admits the newcomer
// and A drops the dead tunnel at once.
func TestOneKioskPerIdentityAcrossRelays(t *testing.T) {
	f := relaytest.NewFleet(t)
	prefix := testPrefix()
	cfgA := peerConfig(t, f, prefix, "relay-a")
	cfgA.KeepAlive = time.Hour // A must not find the dead link by itself
	cfgA.LeaseTTL = time.Minute
	a := relaytest.StartRelay(t, cfgA)
	cfgB := peerConfig(t, f, prefix, "relay-b")
	cfgB.LeaseTTL = time.Minute // no lease lapses during the test: B must ask A
	b := relaytest.StartRelay(t, cfgB)
	token := f.Token(t, "CT0700026", "mall-3f")

	link := relaytest.StartFaultProxy(t, a.Addr)
	first := relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: link.URL(), Code: "CT0700026", Token: token,
		Handler: relaytest.Echo("first"), KeepAlive: time.Hour})
	relaytest.WaitRoutable(t, b.URL, "CT0700026")

	clone := relaytest.StartAgent(t, relaytest.AgentOptions{RelayURL: b.URL, Code: "CT0700026", Token: token,
		Handler: relaytest.Echo("clone"), MaxBackoff: 500 * time.Millisecond})
	clone.WaitState(t, "refused at B", relaytest.Refused(tunnel.CodeAlreadyConnected))
	for _, r := range []*relaytest.Relay{a, b} {
		if _, _, body := do(t, "GET", r.URL+api+"CT0700026/x", nil); !strings.HasPrefix(body, "first ") {
			t.Fatalf("via %s: answered by %q, want the first kiosk", r.URL, body)
		}
	}
	if n, _ := metricValue(scrape(t, b.URL, ""), "casefleet_relay_tunnel_refusals_total", "reason", tunnel.CodeAlreadyConnected); n < 1 {
		t.Errorf("B's refusals_total{reason=machine_already_connected} = %v, want at least 1", n)
	}

	link.Stall()
	clone.WaitState(t, "admitted at B once A's tunnel is dead", relaytest.Connected)
	select {
	case <-link.UpstreamClosed:
	case <-time.After(relaytest.Wait):
		t.Fatal("A kept the dead tunnel open")
	}
	relaytest.Eventually(t, relaytest.Wait, "both relays route to the newcomer", func() bool {
		_, _, viaA := do(t, "GET", a.URL+api+"CT0700026/x", nil)
		_, _, viaB := do(t, "GET", b.URL+api+"CT0700026/x", nil)
		return strings.HasPrefix(viaA, "clone ") && strings.HasPrefix(viaB, "clone ")
	})
	first.Stop()
}
