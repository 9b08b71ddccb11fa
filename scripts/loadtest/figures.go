package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

const benchCode = "CT0700026"

// stats are the latencies of one run.
type stats struct {
	n       int
	elapsed time.Duration
	lat     []time.Duration
	errs    int
}

func (s stats) perSecond() float64 { return float64(s.n) / s.elapsed.Seconds() }

func (s stats) pct(p float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	slices.Sort(s.lat)
	return s.lat[min(len(s.lat)-1, int(float64(len(s.lat))*p))]
}

// load runs workers calling do for d, and collects latencies.
func load(ctx context.Context, workers int, d time.Duration, do func() error) stats {
	var mu sync.Mutex
	var all stats
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var lat []time.Duration
			errs := 0
			for time.Now().Before(end) && ctx.Err() == nil {
				t0 := time.Now()
				if err := do(); err != nil {
					errs++
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all.lat = append(all.lat, lat...)
			all.errs += errs
			mu.Unlock()
		})
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	all.n = len(all.lat)
	return all
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// throughput: a small GET and a 5 MB upload, direct and through the relay.
func throughput(ctx context.Context, e *env, opt options) ([]row, error) {
	k := newKiosk()
	a := e.startAgent(benchCode, k)
	defer a.close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	direct := &http.Server{Handler: k}
	go direct.Serve(ln)
	defer direct.Close()
	if err := waitFor(ctx, 20*time.Second, "agent routable", func() bool { return routable(e.relayURL()) }); err != nil {
		return nil, err
	}
	bases := []string{"http://" + ln.Addr().String(), e.relayURL()}
	path := "/api/chitu/machine/" + benchCode

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	var small, upload [2]stats
	for i, base := range bases {
		url := base + path + "/status"
		small[i] = load(ctx, opt.workers, opt.duration, func() error {
			resp, err := client.Get(url)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return statusErr(resp)
		})
	}
	photo := bytes.Repeat([]byte("casefleet"), (5<<20)/9)
	for i, base := range bases {
		url := base + path + "/upload"
		upload[i] = load(ctx, 4, opt.duration, func() error {
			resp, err := client.Post(url, "image/jpeg", bytes.NewReader(photo))
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return statusErr(resp)
		})
	}
	rate := func(name string, s [2]stats) []row {
		return []row{
			{name + ": requests/s", fmt.Sprintf("%.0f", s[0].perSecond()), fmt.Sprintf("%.0f", s[1].perSecond()),
				fmt.Sprintf("%.2f", s[1].perSecond()/s[0].perSecond())},
			{name + ": p50", ms(s[0].pct(0.50)), ms(s[1].pct(0.50)), fmt.Sprintf("%.2f", float64(s[1].pct(0.5))/float64(s[0].pct(0.5)))},
			{name + ": p99", ms(s[0].pct(0.99)), ms(s[1].pct(0.99)), fmt.Sprintf("%.2f", float64(s[1].pct(0.99))/float64(s[0].pct(0.99)))},
		}
	}
	rows := append(rate(fmt.Sprintf("small GET, %d clients", opt.workers), small), rate("5 MB upload, 4 clients", upload)...)
	for i, s := range append(small[:], upload[:]...) {
		if s.errs > 0 {
			rows = append(rows, row{fmt.Sprintf("errors in run %d", i), "", strconv.Itoa(s.errs), ""})
		}
	}
	return rows, nil
}

func statusErr(resp *http.Response) error {
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

func routable(base string) bool {
	resp, err := http.Get(base + "/api/chitu/machine/" + benchCode + "/status")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// fanOut: the delay from a machine event to phones subscribed through
// the relay.
func fanOut(ctx context.Context, e *env, opt options) ([]row, error) {
	k := newKiosk()
	a := e.startAgent(benchCode, k)
	defer a.close()
	if err := waitFor(ctx, 20*time.Second, "agent routable", func() bool { return routable(e.relayURL()) }); err != nil {
		return nil, err
	}
	wsURL := "ws://" + e.addr + "/api/chitu/machine/" + benchCode + "/events?sessionId="
	var (
		mu       sync.Mutex
		lat      []time.Duration
		received atomic.Int64
	)
	phoneCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	for i := range opt.phones {
		c, _, err := websocket.Dial(ctx, wsURL+strconv.Itoa(i), nil)
		if err != nil {
			return nil, fmt.Errorf("phone %d: %w", i, err)
		}
		wg.Go(func() {
			defer c.CloseNow()
			for {
				_, msg, err := c.Read(phoneCtx)
				if err != nil {
					return
				}
				sent, _ := strconv.ParseInt(string(msg), 10, 64)
				d := time.Since(time.Unix(0, sent))
				received.Add(1)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	defer wg.Wait()
	if err := waitFor(ctx, 20*time.Second, "phones subscribed", func() bool { return k.subscribers() == opt.phones }); err != nil {
		return nil, err
	}
	for range opt.events {
		k.broadcast([]byte(strconv.FormatInt(time.Now().UnixNano(), 10)))
		time.Sleep(100 * time.Millisecond) // one event at a time, as a machine sends them
	}
	want := int64(opt.phones * opt.events)
	waitFor(ctx, 20*time.Second, "events delivered", func() bool { return received.Load() >= want })
	stop()
	mu.Lock()
	s := stats{lat: lat}
	mu.Unlock()
	name := fmt.Sprintf("machine event -> %d phones", opt.phones)
	return []row{
		{name + ": p50", "", ms(s.pct(0.50)), ""},
		{name + ": p99", "", ms(s.pct(0.99)), ""},
		{name + ": delivered", "", fmt.Sprintf("%d/%d", received.Load(), want), ""},
	}, nil
}

// idleTunnels: the relay's resident memory per idle tunnel.
func idleTunnels(ctx context.Context, e *env, opt options) ([]row, error) {
	before, err := e.relayRSS()
	if err != nil {
		return nil, err
	}
	agents, err := e.connectMany(ctx, opt.tunnels, 0)
	if err != nil {
		for _, a := range agents {
			a.close()
		}
		return nil, err
	}
	// The first restartAgents stay up for the restart figure.
	defer func() {
		for _, a := range agents[min(opt.restartAgents, len(agents)):] {
			a.close()
		}
	}()
	time.Sleep(3 * time.Second) // let the relay settle: handshakes done, buffers back
	after, err := e.relayRSS()
	if err != nil {
		return nil, err
	}
	e.kept = agents[:min(opt.restartAgents, len(agents))]
	return []row{{fmt.Sprintf("relay RSS per idle tunnel (%d tunnels)", opt.tunnels), "",
		fmt.Sprintf("%.1f KiB", float64(after-before)/float64(opt.tunnels)/1024), ""}}, nil
}

// connectMany starts n agents (codes from offset) and waits until all are
// connected, dialling at most 200 at a time.
func (e *env) connectMany(ctx context.Context, n, offset int) ([]*agent, error) {
	handler := http.NotFoundHandler()
	agents := make([]*agent, 0, n)
	for i := range n {
		a := e.startAgent(fmt.Sprintf("CT%07d", 1000000+offset+i), handler)
		agents = append(agents, a)
		if i%200 == 199 {
			if err := waitFor(ctx, 60*time.Second, "agents connected", func() bool { return countUp(agents) == len(agents) }); err != nil {
				return agents, err
			}
		}
	}
	return agents, waitFor(ctx, 60*time.Second, "agents connected", func() bool { return countUp(agents) == len(agents) })
}

func countUp(agents []*agent) int {
	n := 0
	for _, a := range agents {
		if a.up.Load() {
			n++
		}
	}
	return n
}

// restart: kill the relay and start it again, opt.restarts times; for
// every agent, the time from the relay answering again to its tunnel being
// back, and the relay's busiest rate of admitting tunnels (the agents'
// jitter is what keeps it down).
func restart(ctx context.Context, e *env, opt options) ([]row, error) {
	agents := e.kept
	defer func() {
		for _, a := range agents {
			a.close()
		}
	}()
	var (
		back       []time.Duration // every agent, every restart
		allBack    time.Duration   // the slowest restart, until the last agent
		peak       float64         // tunnels admitted per second, busiest 100 ms
		firstEarly int             // agents back before /readyz first answered
	)
	for round := range opt.restarts {
		before := make([]int64, len(agents))
		for i, a := range agents {
			before[i] = a.connected.Load()
		}
		e.killRelay()
		if err := waitFor(ctx, 60*time.Second, "agents notice", func() bool { return countUp(agents) == 0 }); err != nil {
			return nil, err
		}
		ready, err := e.startRelayTimed(ctx)
		if err != nil {
			return nil, err
		}
		err = waitFor(ctx, 3*time.Minute, fmt.Sprintf("agents back after restart %d", round+1), func() bool {
			for i, a := range agents {
				if a.connected.Load() == before[i] {
					return false
				}
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		ups := make([]time.Time, len(agents))
		for i, a := range agents {
			ups[i] = time.Unix(0, a.upAt.Load())
			d := ups[i].Sub(ready)
			if d < 0 {
				firstEarly++
				d = 0
			}
			back = append(back, d)
		}
		allBack = max(allBack, slices.MaxFunc(ups, time.Time.Compare).Sub(ready))
		peak = max(peak, peakRate(ups, 100*time.Millisecond))
	}
	s := stats{lat: back}
	name := fmt.Sprintf("%d agents back after the relay is back (%d restarts)", len(agents), opt.restarts)
	rows := []row{
		{name + ": p50", "", s.pct(0.50).Round(time.Millisecond).String(), ""},
		{name + ": p99", "", s.pct(0.99).Round(time.Millisecond).String(), ""},
		{name + ": max", "", s.pct(1).Round(time.Millisecond).String(), ""},
		{fmt.Sprintf("all %d agents back after a relay restart (slowest restart)", len(agents)), "", allBack.Round(10 * time.Millisecond).String(), ""},
		{"relay's peak tunnel admissions (busiest 100 ms)", "", fmt.Sprintf("%.0f/s", peak), ""},
	}
	if firstEarly > 0 {
		rows = append(rows, row{"agents back before /readyz first answered (counted as 0)", "", strconv.Itoa(firstEarly), ""})
	}
	return rows, nil
}

// peakRate is the most times in any window of length w, per second.
func peakRate(times []time.Time, w time.Duration) float64 {
	slices.SortFunc(times, time.Time.Compare)
	most := 0
	for lo, hi := 0, 0; hi < len(times); hi++ {
		for times[hi].Sub(times[lo]) >= w {
			lo++
		}
		most = max(most, hi-lo+1)
	}
	return float64(most) / w.Seconds()
}
