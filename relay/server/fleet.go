package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"casefleet/relay/fleetpage"
	"casefleet/relay/route"
	"casefleet/shared/summary"
)

// The fleet owner's page (/fleet/) shows every machine the relay knows.
// Each relay asks the agents of its own tunnels for their summary
// (summary.Path, through the tunnel) every fleetEvery, and with Redis
// publishes them (fleet:CODE) so that every relay shows the whole fleet;
// the machines no relay holds come from the directory's seen:CODE (or, for
// a relay alone, from the machines it has seen since it started).
const (
	fleetEvery      = 5 * time.Second // a full round: summaries, publish, read the directory
	fleetCheckEvery = time.Second     // tunnels here come and go: a round at once when they do
	// fleetWanted is how long a fleet page (or its live stream, CSV) keeps
	// the relays gathering after it was last asked for: without anyone
	// looking, the relays ask their agents nothing (a round of thousands
	// of tunnels every 5 s cost the relay 40 KiB of memory per tunnel and
	// a steady load).
	fleetWanted         = 30 * time.Second
	fleetSummaryTimeout = 3 * time.Second
	fleetConcurrency    = 16
	// fleetFresh: an online machine whose summary is older than this is
	// shown as not answering.
	fleetFresh = 3 * fleetEvery
)

// fleetRecord is what a relay publishes about one of its tunnels' machines.
type fleetRecord struct {
	Instance string          `json:"instance"`
	Since    int64           `json:"since"` // tunnel up, Unix ms
	At       int64           `json:"at"`    // summary fetched, Unix ms
	Summary  json.RawMessage `json:"summary"`
}

// localMachine is what this relay knows of a machine it held.
type localMachine struct {
	location string
	sum      *summary.Summary
	raw      []byte    // sum as the agent sent it, to publish
	fetched  time.Time // when sum came
	since    time.Time // its tunnel's
	down     time.Time // when its tunnel here went down; zero while up
}

// fleetSnap is the fleet as last gathered.
type fleetSnap struct {
	machines []fleetpage.Machine
	partial  bool // the directory did not answer
	version  uint64
	key      []byte // what the machines look like, to tell a change
}

// fleetWatch gathers the fleet and tells the pages' live streams of
// changes.
type fleetWatch struct {
	s    *Server
	kick chan struct{}

	mu       sync.Mutex
	local    map[string]*localMachine
	watched  map[*route.Tunnel]bool
	changed  chan struct{} // closed (and replaced) when snap changes
	closing  chan struct{} // closed when the relay shuts down: streams end
	closed   bool
	snap     atomic.Pointer[fleetSnap]
	gathered chan struct{} // closed after the first round
	once     sync.Once
	lastSet  string        // the tunnels of the last round
	lastAt   time.Time     // when the last round was
	rounded  chan struct{} // closed (and replaced) after each round

	wantedUntil atomic.Int64 // unix nanoseconds: a page here wants rounds until then
	sharedAt    atomic.Int64 // unix nanoseconds: when the wish was last told to the other relays
}

// want says a fleet page is open here: this relay gathers for the next
// fleetWanted, and (with Redis) so do the others.
func (f *fleetWatch) want() {
	now := time.Now()
	f.wantedUntil.Store(now.Add(fleetWanted).UnixNano())
	if d := f.s.dir; d != nil && now.UnixNano()-f.sharedAt.Load() > int64(fleetWanted/3) {
		f.sharedAt.Store(now.UnixNano())
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := d.WantFleet(ctx, fleetWanted); err != nil {
			f.s.log.Warn("fleet page: cannot ask the other relays to gather", "err", err)
		}
	}
}

// wanted reports whether a fleet page is open here or, with Redis, at
// another relay.
func (f *fleetWatch) wanted(ctx context.Context) bool {
	if time.Now().UnixNano() < f.wantedUntil.Load() {
		return true
	}
	if d := f.s.dir; d != nil {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		ok, err := d.FleetWanted(ctx)
		return err == nil && ok
	}
	return false
}

func newFleetWatch(s *Server) *fleetWatch {
	f := &fleetWatch{
		s: s, kick: make(chan struct{}, 1),
		local: map[string]*localMachine{}, watched: map[*route.Tunnel]bool{},
		changed: make(chan struct{}), closing: make(chan struct{}), gathered: make(chan struct{}),
		rounded: make(chan struct{}),
	}
	f.snap.Store(&fleetSnap{})
	return f
}

// current is the latest snapshot and the channel closed when it is
// replaced.
func (f *fleetWatch) current() (*fleetSnap, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap.Load(), f.changed
}

// closeStreams ends the live streams (the relay is shutting down).
func (f *fleetWatch) closeStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.closing)
	}
}

// upToDate returns nil if the last round is recent and saw this relay's
// tunnels as they are now, or else asks for a round and returns the
// channel closed after the next one.
func (f *fleetWatch) upToDate() <-chan struct{} {
	set := f.tunnelSet()
	f.mu.Lock()
	same, next := set == f.lastSet && time.Since(f.lastAt) < 2*fleetEvery, f.rounded
	f.mu.Unlock()
	if same {
		return nil
	}
	f.refresh()
	return next
}

// refresh asks for a round now.
func (f *fleetWatch) refresh() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// run gathers the fleet until ctx is done.
func (f *fleetWatch) run(ctx context.Context) {
	check := time.NewTicker(fleetCheckEvery)
	defer check.Stop()
	var last time.Time
	var tunnels string
	for {
		now := time.Now()
		set := f.tunnelSet()
		if (now.Sub(last) >= fleetEvery || set != tunnels) && f.wanted(ctx) {
			f.round(ctx)
			last, tunnels = time.Now(), set
			f.once.Do(func() { close(f.gathered) })
			f.mu.Lock()
			f.lastSet, f.lastAt = set, last
			close(f.rounded)
			f.rounded = make(chan struct{})
			f.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-check.C:
		case <-f.kick:
			tunnels = "" // a round at once
		}
	}
}

// tunnelSet names this relay's live tunnels, to notice one come or go.
func (f *fleetWatch) tunnelSet() string {
	var b bytes.Buffer
	for _, t := range f.s.table.All() {
		if t.Up() {
			b.WriteString(t.ID)
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// round asks this relay's agents, publishes, reads the directory and
// replaces the snapshot if the fleet looks different.
func (f *fleetWatch) round(ctx context.Context) {
	now := time.Now()
	var up []*route.Tunnel
	for _, t := range f.s.table.All() {
		if t.Up() {
			up = append(up, t)
			f.watch(ctx, t)
		}
	}
	fetched := f.fetchAll(ctx, up)

	f.mu.Lock()
	records := map[string][]byte{}
	var stillUp []*route.Tunnel
	for i, t := range up {
		lm := f.local[t.Machine()]
		if lm == nil {
			lm = &localMachine{}
			f.local[t.Machine()] = lm
		}
		if !lm.since.Equal(t.Since) { // a new tunnel
			lm.since, lm.down = t.Since, time.Time{}
		}
		lm.location = t.Location()
		if !t.Up() { // went down while we asked
			if lm.down.IsZero() {
				lm.down = time.Now()
			}
		} else {
			stillUp = append(stillUp, t)
		}
		if r := fetched[i]; r.sum != nil {
			lm.sum, lm.raw, lm.fetched = r.sum, r.raw, r.at
			rec, _ := json.Marshal(fleetRecord{Instance: f.s.cfg.InstanceID, Since: t.Since.UnixMilli(), At: r.at.UnixMilli(), Summary: r.raw})
			records[t.Machine()] = rec
		}
	}
	local := make(map[string]localMachine, len(f.local))
	for code, lm := range f.local {
		local[code] = *lm
	}
	f.mu.Unlock()

	ms, partial := f.gather(ctx, now, stillUp, local, records)
	key := fleetKey(ms, partial)
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.snap.Load()
	if bytes.Equal(old.key, key) {
		return
	}
	f.snap.Store(&fleetSnap{machines: ms, partial: partial, version: old.version + 1, key: key})
	close(f.changed)
	f.changed = make(chan struct{})
}

// watch notes when t goes down, and asks for a round at once. It holds
// no goroutine per tunnel (a relay keeps thousands): the tunnel runs it
// as it ends.
func (f *fleetWatch) watch(ctx context.Context, t *route.Tunnel) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.watched[t] {
		return
	}
	f.watched[t] = true
	t.Conn.AfterClose(func() {
		f.mu.Lock()
		delete(f.watched, t)
		if lm := f.local[t.Machine()]; lm != nil && lm.since.Equal(t.Since) {
			lm.down = time.Now()
		}
		f.mu.Unlock()
		if ctx.Err() == nil {
			f.refresh()
		}
	})
}

type fetchedSummary struct {
	sum *summary.Summary
	raw []byte
	at  time.Time
}

// fetchAll asks each tunnel's agent for its summary, a few at a time.
func (f *fleetWatch) fetchAll(ctx context.Context, up []*route.Tunnel) []fetchedSummary {
	out := make([]fetchedSummary, len(up))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fleetConcurrency)
	for i, t := range up {
		g.Go(func() error {
			sum, raw, err := f.fetch(gctx, t)
			if err != nil {
				f.s.log.Debug("fleet summary", "machine", t.Machine(), "err", err)
				return nil
			}
			out[i] = fetchedSummary{sum: &sum, raw: raw, at: time.Now()}
			return nil
		})
	}
	g.Wait()
	return out
}

// fetch asks one agent for its summary through its tunnel. An agent older
// than the summary answers 404: its public status stands in (status,
// line, wait; no ink, order or failures).
func (f *fleetWatch) fetch(ctx context.Context, t *route.Tunnel) (summary.Summary, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, fleetSummaryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://agent"+summary.Path, nil)
	if err != nil {
		return summary.Summary{}, nil, err
	}
	req.Header.Set("Accept", "application/json")
	// The stream closes after the answer: an idle one kept for the next
	// round would hold a stream and its buffers per tunnel, between
	// rounds, on a relay of thousands of idle tunnels.
	req.Close = true
	resp, err := t.Transport.RoundTrip(req)
	if err != nil {
		return summary.Summary{}, nil, fmt.Errorf("summary of %s: %w", t.Machine(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, summary.MaxBytes+1))
	if err != nil {
		return summary.Summary{}, nil, fmt.Errorf("summary of %s: %w", t.Machine(), err)
	}
	var sum summary.Summary
	switch resp.StatusCode {
	case http.StatusOK:
		if sum, err = summary.Parse(body, t.Machine()); err != nil {
			return summary.Summary{}, nil, err
		}
	case http.StatusNotFound:
		st, err := f.s.fetchStatus(ctx, onlineMachine{code: t.Machine(), location: t.Location(), tunnel: t})
		if err != nil {
			return summary.Summary{}, nil, err
		}
		old, _ := json.Marshal(summary.Summary{
			Code: t.Machine(), Name: st.Name, Location: st.Location, Status: st.Status,
			QueueLength: st.QueueLength, QueueCapacity: st.QueueCapacity, Full: st.Full, WaitSeconds: st.EstimatedWaitSeconds,
		})
		if sum, err = summary.Parse(old, t.Machine()); err != nil {
			return summary.Summary{}, nil, err
		}
	default:
		return summary.Summary{}, nil, fmt.Errorf("summary of %s: %s", t.Machine(), resp.Status)
	}
	sum.At = time.Now().UTC()   // when this relay heard it: freshness on the relays' clocks
	raw, _ := json.Marshal(sum) // the checked one is what others read
	return sum, raw, nil
}

// gather builds the fleet: this relay's machines, then (with Redis) every
// machine any relay holds or has held.
func (f *fleetWatch) gather(ctx context.Context, now time.Time, up []*route.Tunnel, local map[string]localMachine, records map[string][]byte) ([]fleetpage.Machine, bool) {
	self := f.s.cfg.InstanceID
	byCode := map[string]*fleetpage.Machine{}
	get := func(code string) *fleetpage.Machine {
		m := byCode[code]
		if m == nil {
			m = &fleetpage.Machine{Code: code}
			byCode[code] = m
		}
		return m
	}
	for code, loc := range f.s.seen.all() {
		get(code).Location = loc
	}
	for code, lm := range local {
		m := get(code)
		m.Location, m.Relay, m.DownSince = lm.location, self, lm.down
		m.Summary = lm.sum
	}
	partial := false
	if d := f.s.dir; d != nil {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := d.PublishFleet(rctx, records); err != nil {
			f.s.log.Warn("publish fleet summaries", "err", err)
		}
		known, kerr := d.Known(rctx)
		online, oerr := d.Online(rctx)
		if kerr != nil || oerr != nil {
			f.s.log.Warn("read the fleet from the directory", "err", firstErr(kerr, oerr))
			partial = true
		}
		for _, k := range known {
			m := get(k.Machine)
			if m.Location == "" {
				m.Location = k.Location
			}
			if _, mine := local[k.Machine]; mine && local[k.Machine].down.IsZero() {
				continue
			}
			rec, sum, ok := parseRecord(k.Record, k.Machine)
			if ok && (m.Summary == nil || rec.At > m.Summary.At.UnixMilli()) {
				m.Summary, m.Relay = &sum, summary.Clean(rec.Instance)
				m.UpSince = time.UnixMilli(rec.Since)
			}
			// Down since the release, or else (a relay that died holding
			// it) since its relay last heard it.
			switch {
			case !k.Down.IsZero() && (!ok || k.Down.UnixMilli() >= rec.Since):
				if k.Down.After(m.DownSince) {
					m.DownSince = k.Down
				}
			case ok && m.DownSince.IsZero():
				m.DownSince = time.UnixMilli(rec.At)
			}
		}
		for _, e := range online {
			if e.Instance == self {
				continue // this relay's own tunnels are known better from its table
			}
			m := get(e.Machine)
			m.Online, m.Relay, m.UpSince, m.DownSince = true, e.Instance, time.UnixMilli(e.Since), time.Time{}
			if e.Location != "" {
				m.Location = e.Location
			}
			m.Fresh = m.Summary != nil && now.Sub(m.Summary.At) < fleetFresh
		}
	}
	for _, t := range up {
		m := get(t.Machine())
		lm := local[t.Machine()]
		m.Online, m.Relay, m.UpSince, m.DownSince = true, self, t.Since, time.Time{}
		m.Location = t.Location()
		m.Summary = lm.sum
		m.Fresh = lm.sum != nil && now.Sub(lm.fetched) < fleetFresh
	}
	out := make([]fleetpage.Machine, 0, len(byCode))
	for _, m := range byCode {
		if !m.Online {
			m.UpSince = time.Time{}
		}
		out = append(out, *m)
	}
	fleetpage.Sort(out)
	return out, partial
}

// parseRecord reads a fleet record from Redis, which is shared and so not
// trusted blindly.
func parseRecord(b []byte, code string) (fleetRecord, summary.Summary, bool) {
	if len(b) == 0 {
		return fleetRecord{}, summary.Summary{}, false
	}
	var rec fleetRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.At <= 0 || rec.Since < 0 {
		return fleetRecord{}, summary.Summary{}, false
	}
	sum, err := summary.Parse(rec.Summary, code)
	if err != nil {
		return fleetRecord{}, summary.Summary{}, false
	}
	sum.At = time.UnixMilli(rec.At) // when the relay heard it, on the relays' clocks
	return rec, sum, true
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// fleetKey is what the fleet looks like, without the times summaries were
// made at (which change every round): equal keys, nothing to tell.
func fleetKey(ms []fleetpage.Machine, partial bool) []byte {
	cp := make([]fleetpage.Machine, len(ms))
	for i, m := range ms {
		if m.Summary != nil {
			s := *m.Summary
			s.At = time.Time{}
			m.Summary = &s
		}
		cp[i] = m
	}
	key, _ := json.Marshal(struct {
		M []fleetpage.Machine
		P bool
	}{cp, partial})
	return key
}
