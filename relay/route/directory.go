package route

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"casefleet/shared/machine"
)

// Entry says which relay holds a machine's tunnel.
type Entry struct {
	Machine  string `json:"machine"`
	Instance string `json:"instance"`           // the holding relay's instance id
	URL      string `json:"url"`                // its advertise URL, where peers forward to
	Tunnel   string `json:"tunnel"`             // the tunnel's id
	Location string `json:"location,omitempty"` // from the agent's token
	Since    int64  `json:"since"`              // Unix milliseconds, when the tunnel came up
}

// seenTTL is how long the directory remembers that a machine was once
// online, which tells "offline" from "unknown".
const seenTTL = 30 * 24 * time.Hour

// maxEntryLen bounds what is read back from Redis.
const maxEntryLen = 4 << 10

// Directory is the machine -> relay directory in Redis. Each entry is a
// key with a lease (PX ttl) that only its holder refreshes; a sorted set
// indexes the online machines by lease expiry.
//
// Keys, under the prefix:
//
//	m:<CODE>     the Entry (JSON), expiring with its lease
//	online       sorted set: CODE scored by its lease's expiry (Unix ms)
//	seen:<CODE>  the machine's location, kept for 30 days
type Directory struct {
	rdb     *redis.Client
	prefix  string
	ttl     time.Duration
	now     func() time.Time
	onError func(op string, err error)
}

// DirectoryOptions configure NewDirectory.
type DirectoryOptions struct {
	URL      string        // redis://[:password@]host:port[/db]
	Prefix   string        // of every key
	LeaseTTL time.Duration // how long an entry outlives its last refresh
	// OnError, if set, is told of every command that fails (Redis away,
	// a bad entry), named by the method: "claim", "refresh", "release",
	// "lookup", "online", "seen" or "ping". A machine that is simply not
	// in the directory is not an error. The relay counts them.
	OnError func(op string, err error)
}

// NewDirectory connects to Redis (lazily: the first command dials).
func NewDirectory(opt DirectoryOptions) (*Directory, error) {
	ropt, err := redis.ParseURL(opt.URL)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	ropt.DialTimeout = 2 * time.Second
	ropt.ReadTimeout = 2 * time.Second
	ropt.WriteTimeout = 2 * time.Second
	ropt.MaxRetries = 1
	if opt.LeaseTTL < time.Second {
		return nil, fmt.Errorf("lease ttl %v: at least 1s", opt.LeaseTTL)
	}
	d := &Directory{rdb: redis.NewClient(ropt), prefix: opt.Prefix, ttl: opt.LeaseTTL, now: time.Now, onError: opt.OnError}
	if d.onError == nil {
		d.onError = func(string, error) {}
	}
	return d, nil
}

// failed reports err to OnError and returns it.
func (d *Directory) failed(op string, err error) error {
	d.onError(op, err)
	return err
}

// Close closes the connections to Redis.
func (d *Directory) Close() error { return d.rdb.Close() }

// LeaseTTL is the lease of every entry; refresh well within it.
func (d *Directory) LeaseTTL() time.Duration { return d.ttl }

// Ping checks that Redis answers.
func (d *Directory) Ping(ctx context.Context) error {
	if err := d.rdb.Ping(ctx).Err(); err != nil {
		return d.failed("ping", fmt.Errorf("redis: %w", err))
	}
	return nil
}

func (d *Directory) entryKey(code string) string { return d.prefix + "m:" + code }
func (d *Directory) seenKey(code string) string  { return d.prefix + "seen:" + code }
func (d *Directory) onlineKey() string           { return d.prefix + "online" }

// claimScript makes ARGV[1] the machine's entry, whoever held it: the
// newest tunnel wins.
var claimScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[6])
return 1`)

// refreshScript renews the entry if it is still ARGV[1], or takes it
// again if it has lapsed; it returns 0 if another tunnel holds it.
var refreshScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1`)

// releaseScript deletes the entry only if it is still ARGV[1].
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 1
end
return 0`)

func (d *Directory) expiry() string {
	return strconv.FormatInt(d.now().Add(d.ttl).UnixMilli(), 10)
}

func (d *Directory) ttlMillis() string { return strconv.FormatInt(d.ttl.Milliseconds(), 10) }

// Claim makes e the machine's entry, replacing any other relay's.
func (d *Directory) Claim(ctx context.Context, e Entry) error {
	val, err := json.Marshal(e)
	if err != nil {
		return err
	}
	keys := []string{d.entryKey(e.Machine), d.onlineKey(), d.seenKey(e.Machine)}
	err = claimScript.Run(ctx, d.rdb, keys, val, d.ttlMillis(), d.expiry(), e.Machine,
		e.Location, strconv.FormatInt(seenTTL.Milliseconds(), 10)).Err()
	if err != nil {
		return d.failed("claim", fmt.Errorf("claim %s in the directory: %w", e.Machine, err))
	}
	return nil
}

// Refresh renews the leases of entries and returns those that another
// tunnel has taken over since (their tunnels here are stale).
func (d *Directory) Refresh(ctx context.Context, entries []Entry) (lost []Entry, err error) {
	if len(entries) == 0 {
		return nil, nil
	}
	run := func() ([]redis.Cmder, error) {
		pipe := d.rdb.Pipeline()
		exp, ttl := d.expiry(), d.ttlMillis()
		for _, e := range entries {
			val, _ := json.Marshal(e) // an Entry of strings and ints always marshals
			refreshScript.EvalSha(ctx, pipe, []string{d.entryKey(e.Machine), d.onlineKey()}, val, ttl, exp, e.Machine)
		}
		return pipe.Exec(ctx)
	}
	cmds, err := run()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// Redis restarted and lost its script cache.
		if lerr := refreshScript.Load(ctx, d.rdb).Err(); lerr != nil {
			return nil, d.failed("refresh", fmt.Errorf("refresh leases: %w", lerr))
		}
		cmds, err = run()
	}
	if err != nil {
		return nil, d.failed("refresh", fmt.Errorf("refresh leases: %w", err))
	}
	for i, c := range cmds {
		if n, _ := c.(*redis.Cmd).Int(); n == 0 {
			lost = append(lost, entries[i])
		}
	}
	// Keep the index small: drop machines whose lease lapsed.
	d.rdb.ZRemRangeByScore(ctx, d.onlineKey(), "-inf", "("+strconv.FormatInt(d.now().UnixMilli(), 10))
	return lost, nil
}

// Release removes e if it is still the machine's entry.
func (d *Directory) Release(ctx context.Context, e Entry) error {
	val, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := releaseScript.Run(ctx, d.rdb, []string{d.entryKey(e.Machine), d.onlineKey()}, val, e.Machine).Err(); err != nil {
		return d.failed("release", fmt.Errorf("release %s in the directory: %w", e.Machine, err))
	}
	return nil
}

// ErrNotFound means the directory has no live entry for the machine.
var ErrNotFound = errors.New("machine not in the directory")

// Lookup returns the machine's entry, or an error wrapping ErrNotFound.
func (d *Directory) Lookup(ctx context.Context, code string) (Entry, error) {
	val, err := d.rdb.Get(ctx, d.entryKey(code)).Result()
	if errors.Is(err, redis.Nil) {
		return Entry{}, fmt.Errorf("%s: %w", code, ErrNotFound)
	}
	if err != nil {
		return Entry{}, d.failed("lookup", fmt.Errorf("look up %s: %w", code, err))
	}
	e, err := ParseEntry([]byte(val))
	if err != nil || e.Machine != code {
		return Entry{}, d.failed("lookup", fmt.Errorf("look up %s: bad entry in the directory: %v", code, err))
	}
	return e, nil
}

// Online returns the entries of every machine whose lease is live.
func (d *Directory) Online(ctx context.Context) ([]Entry, error) {
	now := strconv.FormatInt(d.now().UnixMilli(), 10)
	codes, err := d.rdb.ZRangeByScore(ctx, d.onlineKey(), &redis.ZRangeBy{Min: "(" + now, Max: "+inf"}).Result()
	if err != nil {
		return nil, d.failed("online", fmt.Errorf("list online machines: %w", err))
	}
	if len(codes) == 0 {
		return nil, nil
	}
	keys := make([]string, len(codes))
	for i, c := range codes {
		keys[i] = d.entryKey(c)
	}
	vals, err := d.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, d.failed("online", fmt.Errorf("list online machines: %w", err))
	}
	out := make([]Entry, 0, len(vals))
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // lapsed between the two reads
		}
		if e, err := ParseEntry([]byte(s)); err == nil && e.Machine == codes[i] {
			out = append(out, e)
		}
	}
	return out, nil
}

// Seen reports whether the machine was online in the last 30 days, and
// the location it had then.
func (d *Directory) Seen(ctx context.Context, code string) (location string, seen bool, err error) {
	loc, err := d.rdb.Get(ctx, d.seenKey(code)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, d.failed("seen", fmt.Errorf("look up %s: %w", code, err))
	}
	return loc, true, nil
}

// ParseEntry decodes an entry read from Redis, which is shared with other
// programs and so not trusted blindly.
func ParseEntry(b []byte) (Entry, error) {
	if len(b) > maxEntryLen {
		return Entry{}, fmt.Errorf("entry is %d bytes, at most %d", len(b), maxEntryLen)
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return Entry{}, fmt.Errorf("entry: %w", err)
	}
	if err := machine.ValidateCode(e.Machine); err != nil {
		return Entry{}, fmt.Errorf("entry: %w", err)
	}
	if e.Instance == "" || e.Tunnel == "" {
		return Entry{}, errors.New("entry: no instance or tunnel")
	}
	if !strings.HasPrefix(e.URL, "http://") && !strings.HasPrefix(e.URL, "https://") {
		return Entry{}, fmt.Errorf("entry: relay URL %q is not http(s)", e.URL)
	}
	return e, nil
}
