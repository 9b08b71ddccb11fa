package updates

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// States an agent reports (docs/updates.md).
const (
	StateDownloading = "downloading"
	StateReady       = "ready"
	StateInstalling  = "installing"
	StateHealthy     = "healthy"
	StateFailed      = "failed"
	StateRolledBack  = "rolled_back"
)

// States lists them in the order of an update.
func States() []string {
	return []string{StateDownloading, StateReady, StateInstalling, StateHealthy, StateFailed, StateRolledBack}
}

func knownState(s string) bool {
	for _, k := range States() {
		if k == s {
			return true
		}
	}
	return false
}

// failing reports whether a state counts toward halting a rollout.
func failing(state string) bool { return state == StateFailed || state == StateRolledBack }

// reports keeps, per version, each machine's latest reported state.
type reports interface {
	record(ctx context.Context, version, code, state string) error
	// states returns each machine's latest state for version.
	states(ctx context.Context, version string) (map[string]string, error)
}

// memReports keeps them in memory: one relay.
type memReports struct {
	mu sync.Mutex
	m  map[string]map[string]string // version -> code -> state
}

func newMemReports() *memReports { return &memReports{m: map[string]map[string]string{}} }

func (r *memReports) record(_ context.Context, version, code, state string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[version] == nil {
		r.m[version] = map[string]string{}
	}
	r.m[version][code] = state
	return nil
}

func (r *memReports) states(_ context.Context, version string) (map[string]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.m[version]))
	for k, v := range r.m[version] {
		out[k] = v
	}
	return out, nil
}

// redisReports keeps them in a Redis hash per version, so that every
// relay counts the same and halts the same.
type redisReports struct {
	rdb    *redis.Client
	prefix string
}

func (r *redisReports) key(version string) string { return r.prefix + "rollout:" + version }

func (r *redisReports) record(ctx context.Context, version, code, state string) error {
	if err := r.rdb.HSet(ctx, r.key(version), code, state).Err(); err != nil {
		return fmt.Errorf("record update report: %w", err)
	}
	return nil
}

func (r *redisReports) states(ctx context.Context, version string) (map[string]string, error) {
	m, err := r.rdb.HGetAll(ctx, r.key(version)).Result()
	if err != nil {
		return nil, fmt.Errorf("read update reports: %w", err)
	}
	return m, nil
}
