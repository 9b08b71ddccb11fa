package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"casefleet/relay/route"
)

// MachineInfo is one online machine as GET /api/machines lists it.
type MachineInfo struct {
	Code                 string `json:"code"`
	Name                 string `json:"name"`
	Location             string `json:"location"`
	Status               string `json:"status"` // the agent's: online, offline, printing, error; "unreachable" if it did not answer
	QueueLength          int    `json:"queueLength"`
	EstimatedWaitSeconds int    `json:"estimatedWaitSeconds"`
	// QueueCapacity is the most orders the machine's line holds, and Full
	// says the line is at it (the machine refuses new orders). An agent
	// older than these fields sends neither: 0 and false.
	QueueCapacity int    `json:"queueCapacity"`
	Full          bool   `json:"full"`
	EditorURL     string `json:"editorUrl"` // relative: /editor?machine=CODE&location=L
}

// Limits of asking agents for their status.
const (
	statusTimeout     = 3 * time.Second
	statusConcurrency = 16
	maxStatusBody     = 64 << 10
)

// agentStatus is the part of the agent's status answer the relay uses.
type agentStatus struct {
	Code                 string `json:"code"`
	Name                 string `json:"name"`
	Location             string `json:"location"`
	Status               string `json:"status"`
	QueueLength          int    `json:"queueLength"`
	EstimatedWaitSeconds int    `json:"estimatedWaitSeconds"`
	QueueCapacity        int    `json:"queueCapacity"` // absent (0) from older agents
	Full                 bool   `json:"full"`          // absent (false) from older agents
}

// onlineMachine is a machine with a live tunnel, here or at a peer.
type onlineMachine struct {
	code, location string
	tunnel         *route.Tunnel // set if the tunnel is on this relay
	entry          route.Entry   // else the directory's entry
}

// statusCache keeps agents' statuses briefly, so that a busy offline page
// or machine list does not ask every agent on every request.
type statusCache struct {
	ttl   time.Duration
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]cachedStatus
}

type cachedStatus struct {
	st      agentStatus
	err     error
	fetched time.Time
}

func (c *statusCache) get(code string, now time.Time) (cachedStatus, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[code]
	if !ok || now.Sub(e.fetched) >= c.ttl {
		return cachedStatus{}, false
	}
	return e, true
}

func (c *statusCache) put(code string, e cachedStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[code] = e
}

func (c *statusCache) forget(code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, code)
}

// sweep drops expired entries.
func (c *statusCache) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if now.Sub(e.fetched) >= c.ttl {
			delete(c.entries, k)
		}
	}
}

// online lists the machines with a live tunnel: this relay's, then the
// directory's others. A directory error leaves just this relay's.
func (s *Server) online(ctx context.Context) []onlineMachine {
	byCode := map[string]onlineMachine{}
	for _, t := range s.table.All() {
		if t.Up() {
			byCode[t.Machine()] = onlineMachine{code: t.Machine(), location: t.Location(), tunnel: t}
		}
	}
	if s.dir != nil {
		entries, err := s.dir.Online(ctx)
		if err != nil {
			s.log.Warn("list machines of other relays", "err", err)
		}
		for _, e := range entries {
			if _, ok := byCode[e.Machine]; !ok && e.Instance != s.cfg.InstanceID {
				byCode[e.Machine] = onlineMachine{code: e.Machine, location: e.Location, entry: e}
			}
		}
	}
	out := make([]onlineMachine, 0, len(byCode))
	for _, m := range byCode {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].code < out[j].code })
	return out
}

// machineInfos asks each machine for its status (through the cache), in
// parallel, and returns them in order.
func (s *Server) machineInfos(ctx context.Context, ms []onlineMachine) []MachineInfo {
	out := make([]MachineInfo, len(ms))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(statusConcurrency)
	for i, m := range ms {
		g.Go(func() error {
			st, err := s.status(gctx, m)
			info := MachineInfo{Code: m.code, Location: m.location, Status: "unreachable"}
			if err == nil {
				info.Name, info.Status = st.Name, st.Status
				info.QueueLength, info.EstimatedWaitSeconds = st.QueueLength, st.EstimatedWaitSeconds
				info.QueueCapacity, info.Full = st.QueueCapacity, st.Full
				if info.Location == "" {
					info.Location = st.Location
				}
			}
			info.EditorURL = editorURL(info.Code, info.Location)
			out[i] = info
			return nil
		})
	}
	g.Wait()
	return out
}

func editorURL(code, location string) string {
	u := editorPath + "?machine=" + url.QueryEscape(code)
	if location != "" {
		u += "&location=" + url.QueryEscape(location)
	}
	return u
}

// status returns the machine's status as its agent reports it.
func (s *Server) status(ctx context.Context, m onlineMachine) (agentStatus, error) {
	now := time.Now()
	if c, ok := s.statuses.get(m.code, now); ok {
		return c.st, c.err
	}
	v, _, _ := s.statuses.group.Do(m.code, func() (any, error) {
		st, err := s.fetchStatus(ctx, m)
		c := cachedStatus{st: st, err: err, fetched: time.Now()}
		s.statuses.put(m.code, c)
		return c, nil
	})
	c := v.(cachedStatus)
	return c.st, c.err
}

// fetchStatus asks the agent, through its tunnel here or the peer relay
// that holds it.
func (s *Server) fetchStatus(ctx context.Context, m onlineMachine) (agentStatus, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusTimeout)
	defer cancel()
	path := machineAPIPrefix + m.code + "/status"
	var rt http.RoundTripper
	target := "http://agent" + path
	if m.tunnel != nil {
		rt = m.tunnel.Transport
	} else {
		rt = s.peers
		target = m.entry.URL + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return agentStatus{}, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(hopHeader, s.cfg.InstanceID)
	// Asked now and then (statuses are cached): the stream closes after
	// the answer rather than idle with its buffers per tunnel.
	req.Close = true
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return agentStatus{}, fmt.Errorf("status of %s: %w", m.code, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxStatusBody))
		return agentStatus{}, fmt.Errorf("status of %s: %s", m.code, resp.Status)
	}
	var st agentStatus
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxStatusBody)).Decode(&st); err != nil {
		return agentStatus{}, fmt.Errorf("status of %s: %w", m.code, err)
	}
	return st, nil
}

// serveMachines answers GET /api/machines[?location=L].
func (s *Server) serveMachines(w http.ResponseWriter, r *http.Request) {
	ms := s.online(r.Context())
	if loc := r.URL.Query().Get("location"); loc != "" {
		ms = atLocation(ms, loc, "")
	}
	writeJSON(w, r, http.StatusOK, struct {
		Machines []MachineInfo `json:"machines"`
	}{s.machineInfos(r.Context(), ms)})
}

func atLocation(ms []onlineMachine, location, except string) []onlineMachine {
	var out []onlineMachine
	for _, m := range ms {
		if m.location == location && m.code != except {
			out = append(out, m)
		}
	}
	return out
}

// alternatives are the working machines at location, other than except:
// first those that can take an order now, then the full ones (shown as
// full, so that the customer knows why not).
func (s *Server) alternatives(ctx context.Context, location, except string) []MachineInfo {
	out := []MachineInfo{}
	if location == "" {
		return out
	}
	for _, info := range s.machineInfos(ctx, atLocation(s.online(ctx), location, except)) {
		if info.Status == "online" || info.Status == "printing" {
			out = append(out, info)
		}
	}
	slices.SortStableFunc(out, func(a, b MachineInfo) int {
		switch {
		case a.Full == b.Full:
			return 0
		case a.Full:
			return 1
		}
		return -1
	})
	return out
}

// seenMachines remembers the machines that had a tunnel on this relay and
// their location, to tell an offline machine from an unknown code. It
// grows only with admitted (so enrolled) machines.
type seenMachines struct {
	mu   sync.Mutex
	byID map[string]string
}

func (m *seenMachines) add(code, location string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byID[code] = location
}

// all returns every machine seen, with its location.
func (m *seenMachines) all() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.byID))
	for code, loc := range m.byID {
		out[code] = loc
	}
	return out
}

func (m *seenMachines) get(code string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	loc, ok := m.byID[code]
	return loc, ok
}

// machineSeen reports whether code was ever online (here, or at any relay
// in the last 30 days), and its location.
func (s *Server) machineSeen(ctx context.Context, code string) (location string, seen bool) {
	if loc, ok := s.seen.get(code); ok {
		return loc, true
	}
	if s.dir == nil {
		return "", false
	}
	loc, ok, err := s.dir.Seen(ctx, code)
	if err != nil {
		s.log.Warn("look up machine in the directory", "machine", code, "err", err)
	}
	return loc, ok
}

// unavailable is the answer for a machine without a live tunnel: offline
// if it was ever seen, unknown otherwise, with the online machines at its
// location (or the location of the QR code) as alternatives.
func (s *Server) unavailable(ctx context.Context, r *http.Request, code string) failure {
	location, seen := s.machineSeen(ctx, code)
	if location == "" {
		if l := r.URL.Query().Get("location"); len(l) <= 128 {
			location = l
		}
	}
	alts := s.alternatives(ctx, location, code)
	if seen {
		return failure{status: http.StatusServiceUnavailable, code: "machine_offline", machine: code, alts: &alts, retryAfter: 30 * time.Second}
	}
	return failure{status: http.StatusNotFound, code: "unknown_machine", machine: code, alts: &alts}
}
