package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"casefleet/relay/route"
	"casefleet/shared/machine"
)

// alivePath is where a relay asks a peer whether the machine's tunnel it
// holds is alive, before it admits another agent for that machine. Only
// trusted peers (trusted_proxies) carrying the hop header are answered.
const alivePath = "/relay/v1/alive"

// aliveAnswer is the peer's answer.
type aliveAnswer struct {
	Alive bool `json:"alive"`
}

// askPeerAlive asks the relay of e whether its tunnel for e.Machine
// answers a ping.
func (s *Server) askPeerAlive(ctx context.Context, e route.Entry) (bool, error) {
	u := e.URL + alivePath + "?" + url.Values{"machine": {e.Machine}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set(hopHeader, s.cfg.InstanceID)
	resp, err := s.peers.RoundTrip(req)
	if err != nil {
		return false, fmt.Errorf("ask %s: %w", e.Instance, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("ask %s: HTTP %d", e.Instance, resp.StatusCode)
	}
	var a aliveAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1024)).Decode(&a); err != nil {
		return false, fmt.Errorf("ask %s: %w", e.Instance, err)
	}
	return a.Alive, nil
}

// serveAlive answers a peer's askPeerAlive: whether this relay holds a
// tunnel for the machine that answers a ping now. A tunnel that does not
// is closed at once: the agent behind it is gone, and another one is
// waiting to be admitted.
func (s *Server) serveAlive(w http.ResponseWriter, r *http.Request) {
	o := originOf(r, s.trusted)
	code := r.URL.Query().Get("machine")
	if !o.peer || r.Header.Get(hopHeader) == "" || machine.ValidateCode(code) != nil {
		s.answer(w, r, *notFound())
		return
	}
	t := s.table.Get(code)
	if t == nil {
		writeJSON(w, r, http.StatusOK, aliveAnswer{})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), livenessTimeout)
	defer cancel()
	err := t.Conn.Alive(ctx)
	if err != nil && !errors.Is(r.Context().Err(), context.Canceled) {
		s.log.Info("a peer relay admits another agent for the machine; its tunnel here does not answer", "machine", code, "tunnel", t.ID, "err", err)
		t.Close()
	}
	writeJSON(w, r, http.StatusOK, aliveAnswer{Alive: err == nil})
}
