package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

const validYAML = `
machine:
  code: CT0700026
  name: Mall 3F
  location: mall-3f
  currency: EUR
data_dir: /var/lib/casefleet
chitu:
  base_url: http://127.0.0.1:9000
  app_id: ctAPPID0001
  app_secret: s3cret
  mqtt_url: tcp://127.0.0.1:1883
  mqtt_password: pw
queue:
  payment_timeout: 2m
image:
  allowed_hosts: [cdn.example.com]
`

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	Flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return Load(fs)
}

func TestLoadLayersFileEnvAndFlags(t *testing.T) {
	path := writeFile(t, validYAML)
	t.Setenv("CASEFLEET_QUEUE_MAX_ORDERS", "7")
	t.Setenv("CASEFLEET_MACHINE_NAME", "from env")
	t.Setenv("CASEFLEET_IMAGE_ALLOWED_HOSTS", "a.example.com,b.example.com")
	c, err := load(t, "--config", path, "--machine-code", "CT0700027")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"flag beats file", c.Machine.Code, "CT0700027"},
		{"env beats file", c.Machine.Name, "from env"},
		{"file", c.Machine.Location, "mall-3f"},
		{"currency", c.Machine.Currency, "EUR"},
		{"env int", c.Queue.MaxOrders, 7},
		{"file duration", c.Queue.PaymentTimeout, 2 * time.Minute},
		{"default duration", c.Queue.DefaultPrintDuration, 6 * time.Minute},
		{"default base url kept when file sets it", c.Chitu.BaseURL, "http://127.0.0.1:9000"},
		{"mqtt username defaults to app id", c.Chitu.MQTTUsername, "ctAPPID0001"},
		{"env list", strings.Join(c.Image.AllowedHosts, "|"), "a.example.com|b.example.com"},
		{"default pay type", c.Chitu.PayType, "nayax"},
		{"default topic source", c.Chitu.TopicSource, "machineId"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestDefaultsMatchTheContract(t *testing.T) {
	c, err := load(t)
	if err != nil {
		t.Fatal(err)
	}
	if c.Chitu.BaseURL != "https://www.gzchitu.cn" || c.Queue.MaxOrders != 20 || c.Queue.PaymentTimeout != 5*time.Minute {
		t.Fatalf("defaults: %+v %+v", c.Chitu, c.Queue)
	}
}

// Updates are on by default and checked against the release key the
// packages install; a file or the environment turns them off or sets a
// maintenance window, which may span midnight.
func TestUpdateSettings(t *testing.T) {
	c, err := load(t, "--config", writeFile(t, validYAML))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Update.Enabled || c.Update.ReleasePub != defaultReleasePub() || c.Update.Window != "" {
		t.Fatalf("update defaults: %+v", c.Update)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	t.Setenv("CASEFLEET_UPDATE_ENABLED", "false")
	c, err = load(t, "--config", writeFile(t, validYAML+"update:\n  window: \"22:30-04:00\"\n  release_pub: /etc/kiosk/release.pub\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Update.Enabled || c.Update.Window != "22:30-04:00" || c.Update.ReleasePub != "/etc/kiosk/release.pub" {
		t.Fatalf("update from file and env: %+v", c.Update)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("a window over midnight does not validate: %v", err)
	}
	from, to, err := ParseWindow("22:30-04:00")
	if err != nil || from != 22*60+30 || to != 4*60 {
		t.Fatalf("ParseWindow = %d, %d, %v", from, to, err)
	}
}

func TestValidateNamesEachBadKey(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantKey string
	}{
		{"bad code", func(c *Config) { c.Machine.Code = "ct-1" }, "machine.code"},
		{"relative data dir", func(c *Config) { c.DataDir = "data" }, "data_dir"},
		{"relay without token", func(c *Config) { c.Relay.URL = "https://relay.example.com" }, "relay.token"},
		{"plain http relay off loopback", func(c *Config) { c.Relay.URL = "http://relay.example.com"; c.Relay.Token = "t" }, "relay.url"},
		{"missing secret", func(c *Config) { c.Chitu.AppSecret = "" }, "chitu.app_secret"},
		{"mqtt scheme", func(c *Config) { c.Chitu.MQTTURL = "ftp://x:1" }, "chitu.mqtt_url"},
		{"topic source", func(c *Config) { c.Chitu.TopicSource = "md5" }, "chitu.topic_source"},
		{"print format", func(c *Config) { c.Chitu.PrintFormat = "jpeg" }, "chitu.print_format"},
		{"cap", func(c *Config) { c.Queue.MaxOrders = 0 }, "queue.max_orders"},
		{"payment timeout", func(c *Config) { c.Queue.PaymentTimeout = 0 }, "queue.payment_timeout"},
		{"listen", func(c *Config) { c.LAN.Listen = "7080" }, "lan.listen"},
		{"short operator PIN", func(c *Config) { c.LAN.OperatorPIN = "1234" }, "lan.operator_pin"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"unknown currency", func(c *Config) { c.Machine.Currency = "XYZ" }, "machine.currency"},
		{"lower-case currency", func(c *Config) { c.Machine.Currency = "eur" }, "machine.currency"},
		{"currency symbol", func(c *Config) { c.Machine.Currency = "€" }, "machine.currency"},
		{"relative release key", func(c *Config) { c.Update.ReleasePub = "release.pub" }, "update.release_pub"},
		{"window without an end", func(c *Config) { c.Update.Window = "02:00" }, "update.window"},
		{"window past midnight's hours", func(c *Config) { c.Update.Window = "02:00-25:00" }, "update.window"},
		{"empty window", func(c *Config) { c.Update.Window = "03:00-03:00" }, "update.window"},
		{"negative health deadline", func(c *Config) { c.Update.HealthDeadline = -time.Second }, "update.health_deadline"},
		{"negative check interval", func(c *Config) { c.Update.CheckInterval = -time.Second }, "update.check_interval"},
		{"relative package-format file", func(c *Config) { c.Update.FormatFile = "package-format" }, "update.format_file"},
	}
	path := writeFile(t, validYAML)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, "--config", path)
			if err != nil {
				t.Fatal(err)
			}
			tt.mutate(&c)
			err = c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.wantKey+":") {
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.wantKey)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := load(t, "--config", filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := load(t, "--config", writeFile(t, "machine: [unclosed")); err == nil {
		t.Fatal("malformed YAML accepted")
	}
	if _, err := load(t, "--config", writeFile(t, "queue:\n  max_orders: lots\n")); err == nil {
		t.Fatal("a word for a number accepted")
	}
}
