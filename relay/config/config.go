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

// DefaultACMECA is Let's Encrypt's production directory.
const DefaultACMECA = "https://acme-v02.api.letsencrypt.org/directory"

// DefaultACMEChallenges are the ACME challenges the relay answers.
var DefaultACMEChallenges = []string{"http-01", "tls-alpn-01"}

// HTTPListenOff is the http_listen that serves no plain HTTP.
const HTTPListenOff = "off"

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

	// Agent updates (docs/updates.md): off without releases_dir.
	ReleasesDir string `mapstructure:"releases_dir"`
	ReleasePub  string `mapstructure:"release_pub"`
	Rollout     string `mapstructure:"rollout"`

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

	// HTTPS served by the relay itself (docs/relay-https.md): a
	// certificate from an ACME CA for TLSDomain, or one's own in
	// TLSCert/TLSKey. With either, HTTPListen serves plain HTTP: the ACME
	// HTTP-01 challenge, and a redirect to HTTPS for everything else.
	TLSDomain     string   `mapstructure:"tls_domain"`
	TLSCacheDir   string   `mapstructure:"tls_cache_dir"`
	TLSCert       string   `mapstructure:"tls_cert"`
	TLSKey        string   `mapstructure:"tls_key"`
	ACMECA        string   `mapstructure:"acme_ca"`
	ACMECARoot    string   `mapstructure:"acme_ca_root"`
	ACMEEmail     string   `mapstructure:"acme_email"`
	ACMEChallenge []string `mapstructure:"acme_challenges"`
	HTTPListen    string   `mapstructure:"http_listen"`
	// TLSRenewCheck is how often certificates are checked for renewal,
	// and TLS files for changes.
	TLSRenewCheck time.Duration `mapstructure:"tls_renew_check"`

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
	{"listen", "listen", "", "address to serve customers and agents on (default :8080; :443 with tls_domain or tls_cert)"},
	{"fleet_pub", "fleet-pub", "", "the fleet public key file (fleet.pub from keygen); required"},
	{"public_url", "public-url", "", "public base URL of the relay, announced to agents (print-file URLs start with it); with tls_domain on :443, https://tls_domain by default"},
	{"revocations", "revocations", "", "revocation list file (jti:<id> or machine:<CODE> per line); reloaded on change and SIGHUP"},
	{"releases_dir", "releases-dir", "", "agent updates: directory of releases (VERSION/ with the signed manifest and packages make package wrote; docs/updates.md); empty: no updates"},
	{"release_pub", "release-pub", "", "agent updates: the release public key (release.pub from release-keygen) that checks every manifest"},
	{"rollout", "rollout", "", "agent updates: the rollout file (casefleet-relay rollout set writes it); reloaded on change and SIGHUP"},
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
	{"tls_domain", "tls-domain", "", "serve HTTPS for this domain with a certificate obtained and renewed by ACME (Let's Encrypt by default)"},
	{"tls_cache_dir", "tls-cache-dir", "", "directory of the ACME account and certificates (default $STATE_DIRECTORY/acme, else ~/.local/share/casefleet-relay/acme)"},
	{"tls_cert", "tls-cert", "", "serve HTTPS with this certificate chain (PEM; with tls_key), reloaded on change and SIGHUP"},
	{"tls_key", "tls-key", "", "the private key of tls_cert (PEM)"},
	{"acme_ca", "acme-ca", DefaultACMECA, "directory URL of the ACME CA (https://)"},
	{"acme_ca_root", "acme-ca-root", "", "PEM file of the root(s) to trust for acme_ca's own HTTPS, for a private or test CA (default: the system's roots)"},
	{"acme_email", "acme-email", "", "contact address given to the ACME CA (expiry warnings)"},
	{"acme_challenges", "acme-challenges", DefaultACMEChallenges, "ACME challenges to answer: http-01 (on http_listen), tls-alpn-01 (on listen)"},
	{"http_listen", "http-listen", "", "with HTTPS: plain-HTTP address for ACME challenges and redirects to HTTPS (default :80; off: none)"},
	{"tls_renew_check", "tls-renew-check", "10m", "how often certificates are checked for renewal and tls_cert/tls_key for changes"},
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
	c.ACMEChallenge = splitList(c.ACMEChallenge)
	// A relay that serves HTTPS listens where browsers look for it, unless
	// told otherwise: a one-command VPS.
	if c.Listen == "" {
		c.Listen = ":8080"
		if c.TLS() {
			c.Listen = ":443"
		}
	}
	if c.HTTPListen == "" && c.TLS() {
		c.HTTPListen = ":80"
	}
	// The relay's public URL is its domain, when it serves it on the
	// standard port.
	if _, port, _ := net.SplitHostPort(c.Listen); c.PublicURL == "" && c.TLSDomain != "" && port == "443" {
		c.PublicURL = "https://" + c.TLSDomain
	}
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
	switch {
	case c.ReleasesDir != "" && c.ReleasePub == "":
		bad("release_pub", "is empty but releases_dir is set: give release.pub from `casefleet-relay release-keygen`, which checks every manifest")
	case c.ReleasesDir == "" && (c.ReleasePub != "" || c.Rollout != ""):
		bad("releases_dir", "is empty but release_pub or rollout is set: updates need the releases directory")
	case c.ReleasesDir != "":
		if fi, err := os.Stat(c.ReleasesDir); err != nil || !fi.IsDir() {
			bad("releases_dir", "%q is not a directory", c.ReleasesDir)
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
	errs = append(errs, c.validateTLS()...)
	return errors.Join(errs...)
}

// TLS reports whether the relay serves HTTPS itself.
func (c Config) TLS() bool { return c.TLSDomain != "" || c.TLSCert != "" || c.TLSKey != "" }

// ACME reports whether the relay's certificate comes from an ACME CA.
func (c Config) ACME() bool { return c.TLSDomain != "" }

// validateTLS checks the HTTPS keys.
func (c Config) validateTLS() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.TLSDomain != "" && (c.TLSCert != "" || c.TLSKey != "") {
		bad("tls_domain", "is set together with tls_cert/tls_key: choose one, a certificate from ACME (tls_domain) or your own (tls_cert and tls_key)")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls_cert/tls_key", "give both, the certificate chain and its private key")
	}
	if c.TLSDomain != "" {
		if err := CheckDomain(c.TLSDomain); err != nil {
			bad("tls_domain", "%v", err)
		} else if c.ACMECA == DefaultACMECA && isLocalName(c.TLSDomain) {
			bad("tls_domain", "%q is a local name: Let's Encrypt cannot issue for it (a private CA in acme_ca may)", c.TLSDomain)
		}
	}
	if c.ACME() {
		if u, err := url.Parse(c.ACMECA); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("acme_ca", "%q: want the https:// URL of an ACME directory (e.g. %s)", c.ACMECA, DefaultACMECA)
		}
		if c.ACMEEmail != "" && (!strings.Contains(c.ACMEEmail, "@") || strings.ContainsAny(c.ACMEEmail, " \t<>,")) {
			bad("acme_email", "%q: want one e-mail address", c.ACMEEmail)
		}
		if len(c.ACMEChallenge) == 0 {
			bad("acme_challenges", "is empty: want http-01, tls-alpn-01 or both")
		}
		for _, ch := range c.ACMEChallenge {
			switch ch {
			case "http-01":
				if c.HTTPListen == HTTPListenOff {
					bad("acme_challenges", "http-01 needs plain HTTP, but http_listen is off")
				}
			case "tls-alpn-01":
			default:
				bad("acme_challenges", "%q: want http-01 or tls-alpn-01", ch)
			}
		}
	}
	if c.HTTPListen != "" && c.HTTPListen != HTTPListenOff {
		if !c.TLS() {
			bad("http_listen", "is set, but the relay serves no HTTPS (set tls_domain or tls_cert)")
		} else if _, _, err := net.SplitHostPort(c.HTTPListen); err != nil {
			bad("http_listen", "%q is not host:port (e.g. :80) or off: %v", c.HTTPListen, err)
		} else if c.HTTPListen == c.Listen {
			bad("http_listen", "%q is also listen: plain HTTP needs an address of its own", c.HTTPListen)
		}
	}
	if c.TLSRenewCheck <= 0 {
		bad("tls_renew_check", "%v: must be positive", c.TLSRenewCheck)
	}
	return errs
}

// CheckDomain accepts a domain name a CA can issue for: letters, digits
// and hyphens in dot-separated labels, at least two of them, no address,
// no wildcard.
func CheckDomain(d string) error {
	if len(d) > 253 || !strings.Contains(strings.TrimSuffix(d, "."), ".") {
		return fmt.Errorf("%q: want a fully qualified domain name, like relay.example.com", d)
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return fmt.Errorf("%q is an address: ACME certificates here are for a domain name", d)
	}
	for _, label := range strings.Split(strings.TrimSuffix(d, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' ||
			strings.ContainsFunc(label, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
			}) {
			return fmt.Errorf("%q: want a domain name of letters, digits, hyphens and dots, like relay.example.com (no scheme, port, path or wildcard)", d)
		}
	}
	return nil
}

// isLocalName reports whether d is under a name reserved for local use,
// which no public CA issues for.
func isLocalName(d string) bool {
	lower := strings.ToLower(strings.TrimSuffix(d, "."))
	for _, local := range []string{".localhost", ".local", ".internal", ".home.arpa", ".test", ".invalid", ".example", ".lan"} {
		if strings.HasSuffix(lower, local) {
			return true
		}
	}
	return false
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
