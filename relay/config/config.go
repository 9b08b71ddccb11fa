// Package config is the relay's settings: every key with its default, read
// by viper from an optional YAML file, CASEFLEET_RELAY_* environment
// variables and flags, and checked so that an operator is told exactly
// which key to fix.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	sharedconfig "casefleet/shared/config"
	"casefleet/shared/logging"
)

// EnvPrefix is the prefix of the relay's environment variables: key
// public_url reads CASEFLEET_RELAY_PUBLIC_URL.
const EnvPrefix = "CASEFLEET_RELAY"

// MinMetricsToken is the shortest metrics_token accepted: /metrics is on
// the public listener, and a short token could be guessed.
const MinMetricsToken = 16

// DefaultTrustedProxies are the networks whose X-Forwarded-For the relay
// believes by default: loopback and private ranges, where load balancers
// and the relay's peers live.
var DefaultTrustedProxies = []string{
	"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
}

// Config is the whole configuration of `casefleet-relay run`.
type Config struct {
	Listen       string `mapstructure:"listen"`
	FleetPub     string `mapstructure:"fleet_pub"`
	PublicURL    string `mapstructure:"public_url"`
	Revocations  string `mapstructure:"revocations"`
	RedisURL     string `mapstructure:"redis_url"`
	RedisPrefix  string `mapstructure:"redis_prefix"`
	InstanceID   string `mapstructure:"instance_id"`
	AdvertiseURL string `mapstructure:"advertise_url"`

	LeaseTTL        time.Duration `mapstructure:"lease_ttl"`
	KeepAlive       time.Duration `mapstructure:"keepalive"`
	RevocationsPoll time.Duration `mapstructure:"revocations_poll"`
	StatusCacheTTL  time.Duration `mapstructure:"status_cache_ttl"`

	ReadHeaderTimeout     time.Duration `mapstructure:"read_header_timeout"`
	RequestTimeout        time.Duration `mapstructure:"request_timeout"`
	ResponseHeaderTimeout time.Duration `mapstructure:"response_header_timeout"`
	IdleTimeout           time.Duration `mapstructure:"idle_timeout"`
	ShutdownTimeout       time.Duration `mapstructure:"shutdown_timeout"`

	MaxBodyBytes   int64 `mapstructure:"max_body_bytes"`
	MaxHeaderBytes int   `mapstructure:"max_header_bytes"`

	RateIP           float64 `mapstructure:"rate_ip"`
	RateIPBurst      int     `mapstructure:"rate_ip_burst"`
	RateSession      float64 `mapstructure:"rate_session"`
	RateSessionBurst int     `mapstructure:"rate_session_burst"`

	MaxStreamsIP      int           `mapstructure:"max_streams_ip"`
	MaxStreamsSession int           `mapstructure:"max_streams_session"`
	StreamIdleTimeout time.Duration `mapstructure:"stream_idle_timeout"`

	TrustedProxies []string `mapstructure:"trusted_proxies"`

	MetricsToken string `mapstructure:"metrics_token"`

	LogLevel  string `mapstructure:"log_level"`
	LogFormat string `mapstructure:"log_format"`
}

// setting is one key: its default, and the flag that overrides it.
type setting struct {
	key, flag string
	def       any
	help      string
}

// settings lists every key. viper must know each key for environment
// variables to reach Unmarshal, and every key has a flag of its own.
var settings = []setting{
	{"listen", "listen", ":8080", "address to serve customers and agents on"},
	{"fleet_pub", "fleet-pub", "", "the fleet public key file (fleet.pub from keygen); required"},
	{"public_url", "public-url", "", "public base URL of the relay, announced to agents (print-file URLs start with it)"},
	{"revocations", "revocations", "", "revocation list file (jti:<id> or machine:<CODE> per line); reloaded on change and SIGHUP"},
	{"redis_url", "redis-url", "", "Redis URL (redis://host:6379/0); set it to run several relays"},
	{"redis_prefix", "redis-prefix", "casefleet:relay:", "prefix of every Redis key the relay writes"},
	{"instance_id", "instance-id", "", "unique name of this relay among its peers (default: host name and a random suffix)"},
	{"advertise_url", "advertise-url", "", "URL at which peer relays reach this one (required with redis_url)"},
	{"lease_ttl", "lease-ttl", "15s", "how long a machine's directory entry outlives a relay that stopped refreshing it"},
	{"keepalive", "keepalive", "10s", "tunnel ping interval; a dead tunnel is dropped within two"},
	{"revocations_poll", "revocations-poll", "5s", "how often the revocation file is checked for changes"},
	{"status_cache_ttl", "status-cache-ttl", "5s", "how long a machine's status is reused for /api/machines and offline pages"},
	{"read_header_timeout", "read-header-timeout", "10s", "time a client has to send its request headers"},
	{"request_timeout", "request-timeout", "5m", "time a client has to send its request body and read the answer (WebSockets excepted)"},
	{"response_header_timeout", "response-header-timeout", "60s", "time an agent or peer relay has to start its answer"},
	{"idle_timeout", "idle-timeout", "2m", "how long an idle keep-alive connection stays open"},
	{"shutdown_timeout", "shutdown-timeout", "30s", "how long a stopping relay lets requests finish"},
	{"max_body_bytes", "max-body-bytes", 20 << 20, "largest request body, in bytes (photos are up to 15 MiB)"},
	{"max_header_bytes", "max-header-bytes", 64 << 10, "largest request header block, in bytes"},
	{"rate_ip", "rate-ip", 20.0, "requests per second per client IP (0: no limit)"},
	{"rate_ip_burst", "rate-ip-burst", 100, "burst of requests per client IP"},
	{"rate_session", "rate-session", 10.0, "requests per second per customer session (0: no limit)"},
	{"rate_session_burst", "rate-session-burst", 40, "burst of requests per customer session"},
	{"max_streams_ip", "max-streams-ip", 100, "customers' WebSockets open at once per client IP (0: no limit)"},
	{"max_streams_session", "max-streams-session", 4, "customers' WebSockets open at once per customer session (0: no limit)"},
	{"stream_idle_timeout", "stream-idle-timeout", "75s", "a customer's WebSocket that sends nothing this long is closed (the agent pings every 25 s)"},
	{"trusted_proxies", "trusted-proxies", DefaultTrustedProxies, "networks (CIDR) whose X-Forwarded-For is believed: load balancers and peer relays"},
	{"metrics_token", "metrics-token", "", "bearer token that GET /metrics requires (empty: /metrics is open); prefer CASEFLEET_RELAY_METRICS_TOKEN to the flag"},
	{"log_level", "log-level", "info", "debug, info, warn or error"},
	{"log_format", "log-format", "text", "text or json"},
}

// Flags adds a flag for every key of `run`, and --config, to fs.
func Flags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML file of settings (keys as in docs/relay.md)")
	for _, s := range settings {
		switch d := s.def.(type) {
		case string:
			fs.String(s.flag, "", s.help+defaultNote(d))
		case int:
			fs.Int(s.flag, d, s.help)
		case float64:
			fs.Float64(s.flag, d, s.help)
		case []string:
			fs.StringSlice(s.flag, nil, s.help+" (default "+strings.Join(d, ",")+")")
		}
	}
}

func defaultNote(d string) string {
	if d == "" {
		return ""
	}
	return " (default " + d + ")"
}

// Load reads the configuration: defaults < file < environment < flags. It
// fills in the instance id when none is set, and does not validate.
func Load(fs *pflag.FlagSet) (Config, error) {
	v := sharedconfig.New(EnvPrefix)
	for _, s := range settings {
		v.SetDefault(s.key, s.def)
	}
	file := ""
	if fs != nil {
		file, _ = fs.GetString("config")
		for _, s := range settings {
			if f := fs.Lookup(s.flag); f != nil && f.Changed {
				if err := v.BindPFlag(s.key, f); err != nil {
					return Config{}, fmt.Errorf("bind flag --%s: %w", s.flag, err)
				}
			}
		}
	}
	if file == "" {
		file = os.Getenv(EnvPrefix + "_CONFIG")
	}
	if err := sharedconfig.ReadFile(v, file); err != nil {
		return Config{}, err
	}
	var c Config
	if err := v.Unmarshal(&c); err != nil {
		return Config{}, fmt.Errorf("decode settings: %w", err)
	}
	c.TrustedProxies = splitList(c.TrustedProxies)
	if c.InstanceID == "" {
		c.InstanceID = defaultInstanceID()
	}
	return c, nil
}

// defaultInstanceID is the host name with a random suffix, so that two
// relays on one host (or a restarted one) never share an id.
func defaultInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "relay"
	}
	var b [3]byte
	rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// splitList splits list items that arrive as one comma-separated string
// (from the environment).
func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		out = append(out, strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })...)
	}
	return out
}

// Validate checks every setting and names each key that is wrong.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not host:port (e.g. :8080): %v", c.Listen, err)
	}
	if c.FleetPub == "" {
		bad("fleet_pub", "is empty: give the fleet public key written by `casefleet-relay keygen`")
	}
	if c.PublicURL != "" {
		if err := checkBaseURL(c.PublicURL); err != nil {
			bad("public_url", "%v", err)
		}
	}
	if c.RedisURL != "" {
		if _, err := parseRedisURL(c.RedisURL); err != nil {
			bad("redis_url", "%v", err)
		}
		if c.AdvertiseURL == "" {
			bad("advertise_url", "is empty but redis_url is set: peers need this relay's own URL (e.g. http://10.0.0.5:8080)")
		} else if err := checkBaseURL(c.AdvertiseURL); err != nil {
			bad("advertise_url", "%v", err)
		}
		if c.RedisPrefix == "" {
			bad("redis_prefix", "is empty")
		}
	}
	if c.InstanceID == "" || len(c.InstanceID) > 128 || strings.ContainsFunc(c.InstanceID, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		bad("instance_id", "%q: want 1 to 128 printable characters without spaces", c.InstanceID)
	}
	for key, d := range map[string]time.Duration{
		"lease_ttl": c.LeaseTTL, "keepalive": c.KeepAlive, "revocations_poll": c.RevocationsPoll,
		"read_header_timeout": c.ReadHeaderTimeout, "request_timeout": c.RequestTimeout,
		"response_header_timeout": c.ResponseHeaderTimeout, "idle_timeout": c.IdleTimeout,
		"shutdown_timeout": c.ShutdownTimeout, "stream_idle_timeout": c.StreamIdleTimeout,
	} {
		if d <= 0 {
			bad(key, "%v: must be positive", d)
		}
	}
	if c.LeaseTTL > 0 && c.LeaseTTL < time.Second {
		bad("lease_ttl", "%v: at least 1s (it is refreshed every third of it)", c.LeaseTTL)
	}
	if c.StatusCacheTTL < 0 {
		bad("status_cache_ttl", "%v: must not be negative", c.StatusCacheTTL)
	}
	if c.MaxBodyBytes <= 0 {
		bad("max_body_bytes", "%d: must be positive", c.MaxBodyBytes)
	}
	if c.MaxHeaderBytes < 4<<10 {
		bad("max_header_bytes", "%d: at least 4096", c.MaxHeaderBytes)
	}
	if c.RateIP < 0 || (c.RateIP > 0 && c.RateIPBurst < 1) {
		bad("rate_ip", "%v with burst %d: want a rate >= 0 (0: no limit) and a burst >= 1", c.RateIP, c.RateIPBurst)
	}
	if c.RateSession < 0 || (c.RateSession > 0 && c.RateSessionBurst < 1) {
		bad("rate_session", "%v with burst %d: want a rate >= 0 (0: no limit) and a burst >= 1", c.RateSession, c.RateSessionBurst)
	}
	if c.MaxStreamsIP < 0 {
		bad("max_streams_ip", "%d: want 0 (no limit) or more", c.MaxStreamsIP)
	}
	if c.MaxStreamsSession < 0 {
		bad("max_streams_session", "%d: want 0 (no limit) or more", c.MaxStreamsSession)
	}
	if _, err := c.TrustedPrefixes(); err != nil {
		bad("trusted_proxies", "%v", err)
	}
	if c.MetricsToken != "" && (len(c.MetricsToken) < MinMetricsToken || strings.ContainsFunc(c.MetricsToken, func(r rune) bool { return r <= ' ' || r >= 0x7f })) {
		// The value is a secret: never echo it.
		bad("metrics_token", "want at least %d printable characters without spaces (e.g. from `openssl rand -hex 24`)", MinMetricsToken)
	}
	if _, err := logging.New(nil, c.LogLevel, c.LogFormat); err != nil {
		bad("log_level/log_format", "%v", err)
	}
	return errors.Join(errs...)
}

// TrustedPrefixes parses TrustedProxies; a bare address means just it.
func (c Config) TrustedPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a network (10.0.0.0/8) nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// checkBaseURL accepts an absolute http(s) URL without credentials, query
// or fragment.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: want http:// or https://", s)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: want a base URL like https://relay.example.com", s)
	}
	return nil
}

func parseRedisURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix" {
		return nil, fmt.Errorf("%q: want redis://[:password@]host:port[/db] or rediss://", s)
	}
	return u, nil
}
