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
