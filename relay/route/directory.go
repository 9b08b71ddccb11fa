package route

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
//	down:<CODE>  when its tunnel was last released (Unix ms), 30 days
//	fleet:<CODE> its holder relay's last fleet record (JSON), 30 days
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
	// "lookup", "online", "seen", "fleet", "session" or "ping". A machine that is simply not
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
func (d *Directory) downKey(code string) string  { return d.prefix + "down:" + code }
func (d *Directory) fleetKey(code string) string { return d.prefix + "fleet:" + code }

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

// releaseScript deletes the entry only if it is still ARGV[1], and
// stamps when the machine went down.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
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

// Release removes e if it is still the machine's entry, and notes when
// the machine went down (see Fleet).
func (d *Directory) Release(ctx context.Context, e Entry) error {
	val, err := json.Marshal(e)
	if err != nil {
		return err
	}
	keys := []string{d.entryKey(e.Machine), d.onlineKey(), d.downKey(e.Machine)}
	err = releaseScript.Run(ctx, d.rdb, keys, val, e.Machine,
		strconv.FormatInt(d.now().UnixMilli(), 10), strconv.FormatInt(seenTTL.Milliseconds(), 10)).Err()
	if err != nil {
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

// The fleet owner's page (relay/server's /fleet/) reads every machine the
// directory remembers, whichever relay holds it.

// MaxKnown bounds Known: the machines seen in 30 days it lists.
const MaxKnown = 10_000

// MaxRecordLen bounds a fleet record read back from Redis.
const MaxRecordLen = 64 << 10

// Known is a machine the directory remembers.
type Known struct {
	Machine  string
	Location string    // from its last token
	Down     time.Time // when its tunnel was last released; zero if never
	Record   []byte    // the last fleet record its relay published; nil if none
}

// PublishFleet stores each machine's fleet record (opaque to the
// directory, at most MaxRecordLen), kept 30 days like seen.
func (d *Directory) PublishFleet(ctx context.Context, records map[string][]byte) error {
	if len(records) == 0 {
		return nil
	}
	pipe := d.rdb.Pipeline()
	for code, rec := range records {
		if machine.ValidateCode(code) != nil || len(rec) > MaxRecordLen {
			continue
		}
		pipe.Set(ctx, d.fleetKey(code), rec, seenTTL)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return d.failed("fleet", fmt.Errorf("publish fleet records: %w", err))
	}
	return nil
}

func (d *Directory) fleetWantedKey() string { return d.prefix + "fleet:wanted" }

// WantFleet says, for ttl, that a fleet page is open on some relay: every
// relay then gathers its machines' summaries (they gather none while
// nobody looks).
func (d *Directory) WantFleet(ctx context.Context, ttl time.Duration) error {
	if err := d.rdb.Set(ctx, d.fleetWantedKey(), "1", ttl).Err(); err != nil {
		return d.failed("fleet", fmt.Errorf("want fleet: %w", err))
	}
	return nil
}

// FleetWanted reports whether a relay said WantFleet within its ttl.
func (d *Directory) FleetWanted(ctx context.Context) (bool, error) {
	n, err := d.rdb.Exists(ctx, d.fleetWantedKey()).Result()
	if err != nil {
		return false, d.failed("fleet", fmt.Errorf("fleet wanted: %w", err))
	}
	return n > 0, nil
}

// Known lists the machines seen in the last 30 days (up to MaxKnown, by
// code), with when each went down and its last fleet record.
func (d *Directory) Known(ctx context.Context) ([]Known, error) {
	match := globEscape(d.prefix) + "seen:*"
	var codes []string
	iter := d.rdb.Scan(ctx, 0, match, 500).Iterator()
	for iter.Next(ctx) && len(codes) < MaxKnown {
		code := strings.TrimPrefix(iter.Val(), d.prefix+"seen:")
		if machine.ValidateCode(code) == nil {
			codes = append(codes, code)
		}
	}
	if err := iter.Err(); err != nil {
		return nil, d.failed("fleet", fmt.Errorf("list known machines: %w", err))
	}
	slices.Sort(codes)
	codes = slices.Compact(codes) // SCAN may return a key twice
	out := make([]Known, 0, len(codes))
	for chunk := range slices.Chunk(codes, 300) {
		keys := make([]string, 0, 3*len(chunk))
		for _, c := range chunk {
			keys = append(keys, d.seenKey(c), d.downKey(c), d.fleetKey(c))
		}
		vals, err := d.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, d.failed("fleet", fmt.Errorf("list known machines: %w", err))
		}
		for i, c := range chunk {
			loc, ok := vals[3*i].(string)
			if !ok {
				continue // forgotten between SCAN and MGET
			}
			k := Known{Machine: c, Location: loc}
			if s, ok := vals[3*i+1].(string); ok {
				if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms > 0 {
					k.Down = time.UnixMilli(ms)
				}
			}
			if s, ok := vals[3*i+2].(string); ok && len(s) <= MaxRecordLen {
				k.Record = []byte(s)
			}
			out = append(out, k)
		}
	}
	return out, nil
}

// globEscape quotes the characters SCAN's MATCH treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// The fleet page's login sessions (relay/server), shared by the relays so
// that any of them accepts a session another started, and a logout at one
// ends it at all. The key is a hash of the session's cookie.

func (d *Directory) sessionKey(key string) string { return d.prefix + "fsess:" + key }

// PutSession stores a session for ttl.
func (d *Directory) PutSession(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if err := d.rdb.Set(ctx, d.sessionKey(key), val, ttl).Err(); err != nil {
		return d.failed("session", fmt.Errorf("store session: %w", err))
	}
	return nil
}

// GetSession returns a live session, or false.
func (d *Directory) GetSession(ctx context.Context, key string) ([]byte, bool, error) {
	val, err := d.rdb.Get(ctx, d.sessionKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, d.failed("session", fmt.Errorf("read session: %w", err))
	}
	return val, true, nil
}

// DeleteSession ends a session.
func (d *Directory) DeleteSession(ctx context.Context, key string) error {
	if err := d.rdb.Del(ctx, d.sessionKey(key)).Err(); err != nil {
		return d.failed("session", fmt.Errorf("delete session: %w", err))
	}
	return nil
}

// Wrong logins at the fleet page, counted for all relays together (the
// policy is the caller's: free tries, first lock, longest lock, how long
// a client is remembered). The key is the client's address (or /64).

func (d *Directory) loginKey(client string) string { return d.prefix + "flock:" + client }

// LoginPolicy is how wrong logins lock a client out.
type LoginPolicy struct {
	Free        int           // wrong tries before the first lock
	First, Max  time.Duration // the first lock, doubling up to Max
	ForgetAfter time.Duration // a client that stops failing starts afresh after this
}

// loginFailedScript counts a wrong login; it returns the tries left and
// the lock (ms) it starts.
var loginFailedScript = redis.NewScript(`
local c = redis.call('HINCRBY', KEYS[1], 'count', 1)
local now, free, first, maxl, forget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if c < free then
  redis.call('PEXPIRE', KEYS[1], forget)
  return {free - c, 0}
end
local d = first * 2 ^ math.min(c - free, 16)
if d > maxl then d = maxl end
redis.call('HSET', KEYS[1], 'until', now + d)
redis.call('PEXPIRE', KEYS[1], forget + d)
return {0, d}`)

// LoginFailed counts a wrong login by client and returns how many tries
// it has left, and the lock it is under now.
func (d *Directory) LoginFailed(ctx context.Context, client string, p LoginPolicy) (left int, locked time.Duration, err error) {
	res, err := loginFailedScript.Run(ctx, d.rdb, []string{d.loginKey(client)},
		d.now().UnixMilli(), p.Free, p.First.Milliseconds(), p.Max.Milliseconds(), p.ForgetAfter.Milliseconds()).Int64Slice()
	if err != nil || len(res) != 2 {
		return 0, 0, d.failed("session", fmt.Errorf("count a wrong login: %w", err))
	}
	return int(res[0]), time.Duration(res[1]) * time.Millisecond, nil
}

// LoginWait is how long client must wait before its next try; 0: now.
func (d *Directory) LoginWait(ctx context.Context, client string) (time.Duration, error) {
	v, err := d.rdb.HGet(ctx, d.loginKey(client), "until").Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, d.failed("session", fmt.Errorf("read a client's lockout: %w", err))
	}
	return max(0, time.Duration(v-d.now().UnixMilli())*time.Millisecond), nil
}

// LoginSucceeded forgets client's wrong logins.
func (d *Directory) LoginSucceeded(ctx context.Context, client string) error {
	if err := d.rdb.Del(ctx, d.loginKey(client)).Err(); err != nil {
		return d.failed("session", fmt.Errorf("clear a client's lockout: %w", err))
	}
	return nil
}
