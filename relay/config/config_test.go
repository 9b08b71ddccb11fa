package config

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestLoadLayers(t *testing.T) {
	t.Setenv("CASEFLEET_RELAY_PUBLIC_URL", "https://relay.example.com")
	t.Setenv("CASEFLEET_RELAY_LEASE_TTL", "30s")
	t.Setenv("CASEFLEET_RELAY_TRUSTED_PROXIES", "10.1.0.0/16, 10.2.0.1")
	t.Setenv("CASEFLEET_RELAY_LISTEN", ":9999")
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	Flags(fs)
	if err := fs.Parse([]string{"--listen", "127.0.0.1:8080", "--fleet-pub", "/etc/casefleet/fleet.pub", "--rate-ip", "5"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(fs)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.FleetPub != "/etc/casefleet/fleet.pub" || c.RateIP != 5 {
		t.Errorf("flags lost: %+v", c)
	}
	if c.PublicURL != "https://relay.example.com" || c.LeaseTTL != 30*time.Second ||
		strings.Join(c.TrustedProxies, ",") != "10.1.0.0/16,10.2.0.1" {
		t.Errorf("environment lost: %+v", c)
	}
	if c.KeepAlive != 10*time.Second || c.MaxBodyBytes != 20<<20 || c.RedisPrefix != "casefleet:relay:" || c.InstanceID == "" {
		t.Errorf("defaults lost: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestValidateNamesTheKey(t *testing.T) {
	base, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	base.FleetPub = "/x/fleet.pub"
	tests := []struct {
		key    string
		change func(*Config)
	}{
		{"listen", func(c *Config) { c.Listen = "8080" }},
		{"fleet_pub", func(c *Config) { c.FleetPub = "" }},
		{"public_url", func(c *Config) { c.PublicURL = "relay.example.com" }},
		{"public_url", func(c *Config) { c.PublicURL = "https://u:p@relay.example.com" }},
		{"redis_url", func(c *Config) { c.RedisURL, c.AdvertiseURL = "http://redis", "http://10.0.0.1:8080" }},
		{"advertise_url", func(c *Config) { c.RedisURL = "redis://127.0.0.1:6379" }},
		{"instance_id", func(c *Config) { c.InstanceID = "two words" }},
		{"lease_ttl", func(c *Config) { c.LeaseTTL = 100 * time.Millisecond }},
		{"request_timeout", func(c *Config) { c.RequestTimeout = 0 }},
		{"max_body_bytes", func(c *Config) { c.MaxBodyBytes = -1 }},
		{"rate_ip", func(c *Config) { c.RateIP, c.RateIPBurst = 5, 0 }},
		{"trusted_proxies", func(c *Config) { c.TrustedProxies = []string{"everyone"} }},
		{"log_level", func(c *Config) { c.LogLevel = "loud" }},
		{"metrics_token", func(c *Config) { c.MetricsToken = "short" }},
		{"metrics_token", func(c *Config) { c.MetricsToken = "a token with spaces in it" }},
	}
	for _, tt := range tests {
		c := base
		tt.change(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("%s: Validate = %v, want an error naming it", tt.key, err)
		}
	}
	if err := base.Validate(); err != nil {
		t.Errorf("defaults with a key file: %v", err)
	}
}

func TestMetricsTokenFromTheEnvironmentIsNeverEchoed(t *testing.T) {
	t.Setenv("CASEFLEET_RELAY_METRICS_TOKEN", "s3cret-but-short")
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsToken != "s3cret-but-short" {
		t.Fatalf("metrics_token = %q, want it from the environment", c.MetricsToken)
	}
	c.FleetPub = "/x/fleet.pub"
	if err := c.Validate(); err != nil {
		t.Errorf("a 16-character token: %v", err)
	}
	c.MetricsToken = "s3cret\twith-a-tab-inside"
	err = c.Validate()
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Validate = %v; want an error that does not show the token", err)
	}
}

// With HTTPS and listen left at its default, the relay takes the
// standard ports: a one-command VPS. An address given is kept.
func TestTLSListenDefaults(t *testing.T) {
	for _, tt := range []struct {
		name                        string
		args                        []string
		listen, httpAddr, publicURL string
	}{
		{"no TLS", nil, ":8080", "", ""},
		{"ACME", []string{"--tls-domain", "relay.example.com"}, ":443", ":80", "https://relay.example.com"},
		{"own certificate", []string{"--tls-cert", "/c.pem", "--tls-key", "/k.pem"}, ":443", ":80", ""},
		{"ACME, listen given", []string{"--tls-domain", "relay.example.com", "--listen", ":8443", "--http-listen", ":8080"}, ":8443", ":8080", ""},
		{"ACME, public_url given", []string{"--tls-domain", "relay.example.com", "--public-url", "https://kiosks.example.com"}, ":443", ":80", "https://kiosks.example.com"},
		{"ACME, no plain HTTP", []string{"--tls-domain", "relay.example.com", "--http-listen", "off", "--acme-challenges", "tls-alpn-01"}, ":443", "off", "https://relay.example.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
			Flags(fs)
			if err := fs.Parse(append([]string{"--fleet-pub", "/x/fleet.pub"}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			c, err := Load(fs)
			if err != nil {
				t.Fatal(err)
			}
			if c.Listen != tt.listen || c.HTTPListen != tt.httpAddr || c.PublicURL != tt.publicURL {
				t.Errorf("listen %q, http_listen %q, public_url %q; want %q, %q, %q", c.Listen, c.HTTPListen, c.PublicURL, tt.listen, tt.httpAddr, tt.publicURL)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
	t.Setenv("CASEFLEET_RELAY_ACME_CHALLENGES", "tls-alpn-01")
	c, err := Load(nil)
	if err != nil || len(c.ACMEChallenge) != 1 || c.ACMEChallenge[0] != "tls-alpn-01" || c.ACMECA != DefaultACMECA {
		t.Errorf("acme_challenges from the environment: %q, %v; acme_ca %q", c.ACMEChallenge, err, c.ACMECA)
	}
}

func TestValidateTLS(t *testing.T) {
	acme, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	acme.FleetPub, acme.TLSDomain, acme.Listen, acme.HTTPListen = "/x/fleet.pub", "relay.example.com", ":443", ":80"
	if err := acme.Validate(); err != nil {
		t.Fatalf("a valid ACME configuration: %v", err)
	}
	tests := []struct {
		name, want string
		change     func(*Config)
	}{
		{"tls_cert without tls_key", "tls_cert/tls_key: give both", func(c *Config) { c.TLSDomain, c.TLSCert = "", "/c.pem" }},
		{"tls_key without tls_cert", "tls_cert/tls_key: give both", func(c *Config) { c.TLSDomain, c.TLSKey = "", "/k.pem" }},
		{"tls_domain and tls_cert", "tls_domain: is set together with tls_cert", func(c *Config) { c.TLSCert, c.TLSKey = "/c.pem", "/k.pem" }},
		{"a URL", "tls_domain:", func(c *Config) { c.TLSDomain = "https://relay.example.com" }},
		{"a port", "tls_domain:", func(c *Config) { c.TLSDomain = "relay.example.com:443" }},
		{"an address", "is an address", func(c *Config) { c.TLSDomain = "192.0.2.1" }},
		{"one label", "fully qualified", func(c *Config) { c.TLSDomain = "relay" }},
		{"a wildcard", "tls_domain:", func(c *Config) { c.TLSDomain = "*.example.com" }},
		{"a hyphen at a label's end", "tls_domain:", func(c *Config) { c.TLSDomain = "relay-.example.com" }},
		{"a label too long", "tls_domain:", func(c *Config) { c.TLSDomain = strings.Repeat("a", 64) + ".example.com" }},
		{"a local name for Let's Encrypt", "local name", func(c *Config) { c.TLSDomain = "relay.internal" }},
		{"acme_ca over http", "acme_ca:", func(c *Config) { c.ACMECA = "http://ca.example.com/directory" }},
		{"acme_ca without a host", "acme_ca:", func(c *Config) { c.ACMECA = "https:///directory" }},
		{"acme_email", "acme_email:", func(c *Config) { c.ACMEEmail = "ops at example.com" }},
		{"no challenge", "acme_challenges: is empty", func(c *Config) { c.ACMEChallenge = nil }},
		{"dns-01", "acme_challenges:", func(c *Config) { c.ACMEChallenge = []string{"dns-01"} }},
		{"http-01 without plain HTTP", "http_listen is off", func(c *Config) { c.HTTPListen = HTTPListenOff }},
		{"http_listen not an address", "http_listen:", func(c *Config) { c.HTTPListen = "80" }},
		{"http_listen the same as listen", "plain HTTP needs an address of its own", func(c *Config) { c.HTTPListen = ":443" }},
		{"http_listen without TLS", "http_listen: is set, but", func(c *Config) { c.TLSDomain = "" }},
		{"tls_renew_check", "tls_renew_check:", func(c *Config) { c.TLSRenewCheck = 0 }},
	}
	for _, tt := range tests {
		c := acme
		tt.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
	// A private CA may issue for a local name.
	private := acme
	private.TLSDomain, private.ACMECA = "relay.internal", "https://ca.internal/acme/directory"
	if err := private.Validate(); err != nil {
		t.Errorf("a local name from a private CA: %v", err)
	}
}
