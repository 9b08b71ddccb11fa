package updates

import (
	"casefleet/shared/release"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configure New.
type Options struct {
	ReleasesDir string            // required: VERSION/manifest.json and the packages
	ReleasePub  ed25519.PublicKey // required: manifests are checked before they are offered
	RolloutFile string            // the operator's rollout file; missing: no rollout
	Poll        time.Duration     // how often the rollout file is checked; 5 s if zero
	// RedisURL and Prefix keep the agents' reports in Redis, shared by
	// the relays; without it they are this relay's alone.
	RedisURL, Prefix string
	Logger           *slog.Logger
	// OnChange, if set, is called (in a goroutine of its own) when a
	// reload brings another rollout: the relay tells its agents to ask
	// again rather than wait for their next question.
	OnChange func()
}

// Updates answers the agents' update API and counts their reports.
type Updates struct {
	log      *slog.Logger
	opt      Options
	releases *releases
	reports  reports
	rdb      *redis.Client // nil without Redis

	mu      sync.Mutex
	rollout Rollout
	stamp   stamp
	loadErr error
}

// New loads the rollout file (refusing a bad one: the relay should not
// start on it) and is ready to serve.
func New(opt Options) (*Updates, error) {
	if opt.ReleasesDir == "" || len(opt.ReleasePub) != ed25519.PublicKeySize {
		return nil, errors.New("updates: releases_dir and release_pub are both needed")
	}
	if opt.Poll <= 0 {
		opt.Poll = 5 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	u := &Updates{
		log:      opt.Logger.With("component", "updates"),
		opt:      opt,
		releases: &releases{dir: opt.ReleasesDir, pub: opt.ReleasePub, cache: map[string]loadedManifest{}},
		reports:  newMemReports(),
	}
	if opt.RedisURL != "" {
		ro, err := redis.ParseURL(opt.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("updates: redis_url: %w", err)
		}
		u.rdb = redis.NewClient(ro)
		u.reports = &redisReports{rdb: u.rdb, prefix: opt.Prefix}
	}
	if opt.RolloutFile != "" {
		r, err := LoadRollout(opt.RolloutFile)
		if err != nil {
			u.Close()
			return nil, err
		}
		u.rollout = r
		u.stamp, _ = stampOf(opt.RolloutFile)
	}
	return u, nil
}

// Close lets go of Redis.
func (u *Updates) Close() error {
	if u.rdb != nil {
		return u.rdb.Close()
	}
	return nil
}

// Run reloads the rollout file when it changes, until ctx is done. A
// file that does not load is logged and the previous rollout stays.
func (u *Updates) Run(ctx context.Context) {
	if u.opt.RolloutFile == "" {
		return
	}
	t := time.NewTicker(u.opt.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			u.Reload()
		}
	}
}

// Reload reads the rollout file again if it changed (SIGHUP, or Run).
func (u *Updates) Reload() {
	st, _ := stampOf(u.opt.RolloutFile)
	u.mu.Lock()
	changed := st != u.stamp
	u.mu.Unlock()
	if !changed {
		return
	}
	r, err := LoadRollout(u.opt.RolloutFile)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.stamp = st // a bad file is not read again until it changes
	if err != nil {
		u.loadErr = err
		u.log.Error("rollout file does not load; keeping the previous rollout", "err", err)
		return
	}
	u.loadErr = nil
	changed = !reflect.DeepEqual(r, u.rollout)
	if changed {
		u.log.Info("rollout", "target", r.Target, "percent", r.Percent, "locations", r.Locations, "canaries", r.Canaries, "halt_after", r.haltAfter())
	}
	u.rollout = r
	if changed && u.opt.OnChange != nil {
		go u.opt.OnChange()
	}
}

// Rollout is the rollout in force.
func (u *Updates) Rollout() Rollout {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.rollout
}

// Decision is what a machine is told.
type Decision struct {
	Target    string `json:"target"`              // "" to stay
	Manifest  string `json:"manifest,omitempty"`  // the signed manifest of Target
	Downgrade bool   `json:"downgrade,omitempty"` // Target is older, on purpose
	Halted    bool   `json:"halted,omitempty"`    // the rollout of this version stopped itself
	Reason    string `json:"reason,omitempty"`    // why it stays, for the agent's log
}

// Decide says which version the machine (code, at location, running
// current on platform) should run.
func (u *Updates) Decide(ctx context.Context, code, location, current, platform string) Decision {
	r := u.Rollout()
	switch {
	case r.Target == "":
		return Decision{Reason: "no rollout"}
	case current == r.Target:
		return Decision{Reason: "already on the target"}
	case !r.Chooses(code, location):
		return Decision{Reason: "not in the rollout"}
	}
	downgrade := release.CompareVersions(r.Target, current) < 0
	if downgrade && !r.AllowDowngrade {
		return Decision{Reason: fmt.Sprintf("the target %s is older than %s and downgrades are not allowed", r.Target, current)}
	}
	halted, err := u.halted(ctx, r)
	if err != nil {
		u.log.Warn("update reports unreadable: holding the rollout", "err", err)
		return Decision{Reason: "rollout state unknown"}
	}
	if halted {
		return Decision{Halted: true, Reason: "the rollout of " + r.Target + " halted: too many machines failed"}
	}
	signed, m, err := u.releases.manifest(r.Target)
	if err != nil {
		u.log.Error("the rollout's target cannot be offered", "err", err)
		return Decision{Reason: "the target's release is not on the relay"}
	}
	if _, err := m.For(platform); err != nil {
		return Decision{Reason: err.Error()}
	}
	return Decision{Target: r.Target, Manifest: string(signed), Downgrade: downgrade}
}

// halted reports whether r's target failed on HaltAfter machines.
func (u *Updates) halted(ctx context.Context, r Rollout) (bool, error) {
	states, err := u.reports.states(ctx, r.Target)
	if err != nil {
		return false, err
	}
	failed := 0
	for _, s := range states {
		if failing(s) {
			failed++
		}
	}
	return failed >= r.haltAfter(), nil
}

// Count is how many machines last reported State for Version.
type Count struct {
	Version, State string
	Machines       int
}

// Status is the rollout in force and what the machines reported for its
// target.
type Status struct {
	Rollout Rollout
	Halted  bool
	Counts  []Count
	Failed  map[string]string // machine -> state, of those that failed or rolled back
	LoadErr string            // the rollout file's error, if the latest did not load
}

// Status reads the counts of the rollout's target.
func (u *Updates) Status(ctx context.Context) (Status, error) {
	r := u.Rollout()
	u.mu.Lock()
	st := Status{Rollout: r, Failed: map[string]string{}}
	if u.loadErr != nil {
		st.LoadErr = u.loadErr.Error()
	}
	u.mu.Unlock()
	if r.Target == "" {
		return st, nil
	}
	states, err := u.reports.states(ctx, r.Target)
	if err != nil {
		return st, err
	}
	n := map[string]int{}
	failed := 0
	for code, s := range states {
		n[s]++
		if failing(s) {
			failed++
			st.Failed[code] = s
		}
	}
	for _, s := range States() {
		st.Counts = append(st.Counts, Count{Version: r.Target, State: s, Machines: n[s]})
	}
	st.Halted = failed >= r.haltAfter()
	return st, nil
}
