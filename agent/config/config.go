// Package config is the agent's settings: the keys of product.md with
// their defaults, read by viper from a YAML file, CASEFLEET_* environment
// variables and flags, and checked so a technician is told exactly which
// key to fix.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"golang.org/x/text/currency"

	sharedconfig "casefleet/shared/config"
	"casefleet/shared/machine"
)

// EnvPrefix is the prefix of the agent's environment variables.
const EnvPrefix = "CASEFLEET"

// Config is the agent's whole configuration.
type Config struct {
	Machine   Machine `mapstructure:"machine"`
	DataDir   string  `mapstructure:"data_dir"`
	Relay     Relay   `mapstructure:"relay"`
	Chitu     Chitu   `mapstructure:"chitu"`
	Queue     Queue   `mapstructure:"queue"`
	Session   Session `mapstructure:"session"`
	LAN       LAN     `mapstructure:"lan"`
	PublicURL string  `mapstructure:"public_url"`
	Image     Image   `mapstructure:"image"`
	Push      Push    `mapstructure:"push"`
	Update    Update  `mapstructure:"update"`
	Log       Log     `mapstructure:"log"`
}

// Machine names this kiosk.
type Machine struct {
	Code     string `mapstructure:"code"`
	Name     string `mapstructure:"name"`
	Location string `mapstructure:"location"`
	// Currency is the ISO 4217 code of the catalogue's prices (the vendor
	// gives bare numbers); the customer sees every price with it. Empty:
	// prices are shown as bare numbers.
	Currency string `mapstructure:"currency"`
}

// Relay is the cloud relay this kiosk tunnels to.
type Relay struct {
	URL   string `mapstructure:"url"`
	Token string `mapstructure:"token"`
}

// Chitu is the device link. The settings after PayType are the protocol's
// uncertain points, switchable without a new build.
type Chitu struct {
	BaseURL      string        `mapstructure:"base_url"`
	AppID        string        `mapstructure:"app_id"`
	AppSecret    string        `mapstructure:"app_secret"`
	MQTTURL      string        `mapstructure:"mqtt_url"`
	MQTTUsername string        `mapstructure:"mqtt_username"`
	MQTTPassword string        `mapstructure:"mqtt_password"`
	PayType      string        `mapstructure:"pay_type"`
	TopicSource  string        `mapstructure:"topic_source"`
	CleanSession bool          `mapstructure:"clean_session"`
	Encoding     string        `mapstructure:"encoding"`
	PrintFormat  string        `mapstructure:"print_format"`
	Rotate90     bool          `mapstructure:"print_rotate90"`
	Timeout      time.Duration `mapstructure:"timeout"`
	PollInterval time.Duration `mapstructure:"poll_interval"`
}

// Queue sets the order queue's rules.
type Queue struct {
	MaxOrders            int           `mapstructure:"max_orders"`
	PaymentTimeout       time.Duration `mapstructure:"payment_timeout"`
	MaxAttempts          int           `mapstructure:"max_attempts"`
	RetryDelay           time.Duration `mapstructure:"retry_delay"`
	RefusalTimeout       time.Duration `mapstructure:"refusal_timeout"`
	InflightTimeout      time.Duration `mapstructure:"inflight_timeout"`
	ResendGrace          time.Duration `mapstructure:"resend_grace"`
	DefaultPrintDuration time.Duration `mapstructure:"default_print_duration"`
	KeepFinished         time.Duration `mapstructure:"keep_finished"`
}

// Session sets customer-session rules.
type Session struct {
	IdleTimeout    time.Duration `mapstructure:"idle_timeout"`
	RequestsPerMin int           `mapstructure:"requests_per_minute"`
	OrdersPerHour  int           `mapstructure:"orders_per_hour"`
}

// LAN is the shop-floor side: dashboard, local API, mDNS.
type LAN struct {
	Listen      string   `mapstructure:"listen"`
	Interfaces  []string `mapstructure:"interfaces"`
	OperatorPIN string   `mapstructure:"operator_pin"`
}

// Image bounds customer uploads and image_url fetches.
type Image struct {
	AllowedHosts []string `mapstructure:"allowed_hosts"`
	MaxBytes     int64    `mapstructure:"max_bytes"`
	MaxPixels    int64    `mapstructure:"max_pixels"`
}

// Push sets Web Push notifications.
type Push struct {
	// Subject is the contact push services may use about this sender: a
	// mailto: or https: URL (RFC 8292).
	Subject string `mapstructure:"subject"`
}

// Update sets the agent's own updates (docs/updates.md).
type Update struct {
	// Enabled lets the agent fetch, check and hand over the releases the
	// relay offers it. Default true; it still needs the release key and a
	// packaged install (the package-format file) to update.
	Enabled bool `mapstructure:"enabled"`
	// ReleasePub is the release public key manifests are checked against.
	ReleasePub string `mapstructure:"release_pub"`
	// Window, when set, is the local time of day updates are installed in,
	// like "02:00-05:00" (it may span midnight); always with an empty line.
	Window string `mapstructure:"window"`
	// HealthDeadline is how long a newly installed version has to pass
	// its health checks; the installer rolls back when it has not
	// reported healthy that long again (at most a minute) after that.
	// Zero: two minutes.
	HealthDeadline time.Duration `mapstructure:"health_deadline"`
	// CheckInterval is how often the agent asks the relay for its
	// target version besides at every connection. Zero: five minutes.
	CheckInterval time.Duration `mapstructure:"check_interval"`
	// FormatFile is the file the packages install naming their format
	// (deb, rpm, msi); empty: where the packages put it.
	FormatFile string `mapstructure:"format_file"`
}

// Log sets logging.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// defaults lists every key with its default; viper needs every key known
// for environment variables to reach Unmarshal.
var defaults = map[string]any{
	"machine.code":                 "",
	"machine.name":                 "",
	"machine.location":             "",
	"machine.currency":             "",
	"data_dir":                     defaultDataDir(),
	"relay.url":                    "",
	"relay.token":                  "",
	"chitu.base_url":               "https://www.gzchitu.cn",
	"chitu.app_id":                 "",
	"chitu.app_secret":             "",
	"chitu.mqtt_url":               "wss://open-mqtt.gzchitu.cn",
	"chitu.mqtt_username":          "",
	"chitu.mqtt_password":          "",
	"chitu.pay_type":               "nayax",
	"chitu.topic_source":           "machineId",
	"chitu.clean_session":          false,
	"chitu.encoding":               "json",
	"chitu.print_format":           "tiff",
	"chitu.print_rotate90":         false,
	"chitu.timeout":                "15s",
	"chitu.poll_interval":          "15s",
	"queue.max_orders":             20,
	"queue.payment_timeout":        "5m",
	"queue.max_attempts":           3,
	"queue.retry_delay":            "10s",
	"queue.refusal_timeout":        "10m",
	"queue.inflight_timeout":       "30m",
	"queue.resend_grace":           "2m",
	"queue.default_print_duration": "6m",
	"queue.keep_finished":          "8760h",
	"session.idle_timeout":         "30m",
	"session.requests_per_minute":  120,
	"session.orders_per_hour":      10,
	"lan.listen":                   ":7080",
	"lan.interfaces":               []string{},
	"lan.operator_pin":             "",
	"public_url":                   "",
	"image.allowed_hosts":          []string{},
	"image.max_bytes":              15 << 20,
	"image.max_pixels":             50_000_000,
	"push.subject":                 "",
	"update.enabled":               true,
	"update.release_pub":           defaultReleasePub(),
	"update.window":                "",
	"update.health_deadline":       "2m",
	"update.format_file":           "",
	"update.check_interval":        "5m",
	"log.level":                    "info",
	"log.format":                   "text",
}

// DefaultFile is where the packages install the agent's config. Load reads
// it when no other file is named and it exists.
func DefaultFile() string {
	if runtime.GOOS == "windows" {
		return `C:\ProgramData\casefleet\agent.yaml`
	}
	return "/etc/casefleet/agent.yaml"
}

func defaultDataDir() string {
	if runtime.GOOS == "windows" {
		return `C:\ProgramData\casefleet\data`
	}
	return "/var/lib/casefleet"
}

func defaultReleasePub() string {
	if runtime.GOOS == "windows" {
		return `C:\ProgramData\casefleet\release.pub`
	}
	return "/etc/casefleet/release.pub"
}

// Flags adds the agent's command-line flags to fs. Each flag overrides the
// key of the same meaning.
func Flags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML config file")
	fs.String("machine-code", "", "machine.code")
	fs.String("data-dir", "", "data_dir")
	fs.String("lan-listen", "", "lan.listen")
	fs.String("log-level", "", "log.level (debug, info, warn, error)")
}

var flagKeys = map[string]string{
	"machine-code": "machine.code",
	"data-dir":     "data_dir",
	"lan-listen":   "lan.listen",
	"log-level":    "log.level",
}

// Load reads the configuration: defaults < file < env < flags. fs may be
// nil. It does not validate; call Validate.
func Load(fs *pflag.FlagSet) (Config, error) {
	v := sharedconfig.New(EnvPrefix)
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	file := ""
	if fs != nil {
		file, _ = fs.GetString("config")
		for name, key := range flagKeys {
			if f := fs.Lookup(name); f != nil && f.Changed {
				if err := v.BindPFlag(key, f); err != nil {
					return Config{}, fmt.Errorf("bind flag --%s: %w", name, err)
				}
			}
		}
	}
	if file == "" {
		file = v.GetString("config")
	}
	if file == "" {
		if _, err := os.Stat(DefaultFile()); err == nil {
			file = DefaultFile()
		}
	}
	if err := sharedconfig.ReadFile(v, file); err != nil {
		return Config{}, err
	}
	return decode(v)
}

func decode(v *viper.Viper) (Config, error) {
	var c Config
	if err := v.Unmarshal(&c); err != nil {
		return Config{}, fmt.Errorf("decode config: %w", err)
	}
	// Lists from the environment arrive as one comma-separated string.
	c.LAN.Interfaces = splitList(c.LAN.Interfaces)
	c.Image.AllowedHosts = splitList(c.Image.AllowedHosts)
	if c.Chitu.MQTTUsername == "" {
		c.Chitu.MQTTUsername = c.Chitu.AppID
	}
	return c, nil
}

func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
			out = append(out, part)
		}
	}
	return out
}

// Validate checks every setting and names each key that is wrong.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if err := machine.ValidateCode(c.Machine.Code); err != nil {
		bad("machine.code", "%v", err)
	}
	if c.Machine.Currency != "" {
		if _, err := currency.ParseISO(c.Machine.Currency); err != nil || strings.ToUpper(c.Machine.Currency) != c.Machine.Currency {
			bad("machine.currency", "%q is not an ISO 4217 currency code (like EUR, USD, CNY)", c.Machine.Currency)
		}
	}
	if c.DataDir == "" {
		bad("data_dir", "is empty")
	} else if !filepath.IsAbs(c.DataDir) {
		bad("data_dir", "%q must be an absolute path", c.DataDir)
	}
	if c.Relay.URL != "" {
		if err := checkBaseURL(c.Relay.URL); err != nil {
			bad("relay.url", "%v", err)
		}
		if c.Relay.Token == "" {
			bad("relay.token", "is empty but relay.url is set: enroll the kiosk first")
		}
	}
	if err := checkBaseURL(c.Chitu.BaseURL); err != nil {
		bad("chitu.base_url", "%v", err)
	}
	for key, val := range map[string]string{"chitu.app_id": c.Chitu.AppID, "chitu.app_secret": c.Chitu.AppSecret, "chitu.mqtt_password": c.Chitu.MQTTPassword, "chitu.pay_type": c.Chitu.PayType} {
		if val == "" {
			bad(key, "is empty")
		}
	}
	if u, err := url.Parse(c.Chitu.MQTTURL); err != nil || u.Host == "" {
		bad("chitu.mqtt_url", "%q is not a broker URL like tcp://host:1883 or wss://host", c.Chitu.MQTTURL)
	} else if !oneOf(u.Scheme, "tcp", "ssl", "ws", "wss", "mqtt", "mqtts", "tls") {
		bad("chitu.mqtt_url", "scheme %q: use tcp, ssl, ws or wss", u.Scheme)
	}
	if !oneOf(c.Chitu.TopicSource, "machineId", "device_id") {
		bad("chitu.topic_source", "%q: use machineId or device_id", c.Chitu.TopicSource)
	}
	if !oneOf(c.Chitu.Encoding, "json", "form") {
		bad("chitu.encoding", "%q: use json or form", c.Chitu.Encoding)
	}
	if !oneOf(c.Chitu.PrintFormat, "tiff", "png") {
		bad("chitu.print_format", "%q: use tiff or png", c.Chitu.PrintFormat)
	}
	positive := map[string]time.Duration{
		"chitu.timeout": c.Chitu.Timeout, "chitu.poll_interval": c.Chitu.PollInterval,
		"queue.payment_timeout": c.Queue.PaymentTimeout, "queue.inflight_timeout": c.Queue.InflightTimeout,
		"queue.resend_grace": c.Queue.ResendGrace, "queue.refusal_timeout": c.Queue.RefusalTimeout, "queue.default_print_duration": c.Queue.DefaultPrintDuration,
		"session.idle_timeout": c.Session.IdleTimeout,
	}
	for key, d := range positive {
		if d <= 0 {
			bad(key, "must be a positive duration like 30s or 5m")
		}
	}
	if c.Queue.RetryDelay < 0 {
		bad("queue.retry_delay", "must not be negative")
	}
	if c.Queue.KeepFinished < 0 {
		bad("queue.keep_finished", "must not be negative (0 keeps finished orders for ever)")
	}
	if c.Queue.MaxOrders < 1 || c.Queue.MaxOrders > 1000 {
		bad("queue.max_orders", "%d: must be 1 to 1000", c.Queue.MaxOrders)
	}
	if c.Queue.MaxAttempts < 1 {
		bad("queue.max_attempts", "%d: must be at least 1", c.Queue.MaxAttempts)
	}
	if c.Session.RequestsPerMin < 1 {
		bad("session.requests_per_minute", "must be at least 1")
	}
	if c.Session.OrdersPerHour < 1 {
		bad("session.orders_per_hour", "must be at least 1")
	}
	if pin := c.LAN.OperatorPIN; pin != "" && len(pin) < 6 {
		bad("lan.operator_pin", "must be at least 6 characters (quote it in YAML so leading zeros stay)")
	}
	if _, _, err := net.SplitHostPort(c.LAN.Listen); err != nil {
		bad("lan.listen", "%q is not host:port", c.LAN.Listen)
	}
	if c.PublicURL != "" {
		if err := checkBaseURL(c.PublicURL); err != nil {
			bad("public_url", "%v", err)
		}
	}
	if c.Image.MaxBytes < 1<<10 {
		bad("image.max_bytes", "%d is too small", c.Image.MaxBytes)
	}
	if c.Image.MaxPixels < 1<<16 {
		bad("image.max_pixels", "%d is too small", c.Image.MaxPixels)
	}
	if sub := c.Push.Subject; sub != "" && !strings.HasPrefix(sub, "mailto:") && !strings.HasPrefix(sub, "https://") {
		bad("push.subject", "%q must be a mailto: or https: URL", sub)
	}
	if c.Update.ReleasePub != "" && !filepath.IsAbs(c.Update.ReleasePub) {
		bad("update.release_pub", "%q must be an absolute path", c.Update.ReleasePub)
	}
	if c.Update.HealthDeadline < 0 {
		bad("update.health_deadline", "%v: must be positive", c.Update.HealthDeadline)
	}
	if c.Update.CheckInterval < 0 {
		bad("update.check_interval", "%v: must be positive", c.Update.CheckInterval)
	}
	if c.Update.FormatFile != "" && !filepath.IsAbs(c.Update.FormatFile) {
		bad("update.format_file", "%q must be an absolute path", c.Update.FormatFile)
	}
	if c.Update.Window != "" {
		if _, _, err := ParseWindow(c.Update.Window); err != nil {
			bad("update.window", "%v", err)
		}
	}
	if !oneOf(strings.ToLower(c.Log.Level), "debug", "info", "warn", "error") {
		bad("log.level", "%q: use debug, info, warn or error", c.Log.Level)
	}
	if !oneOf(c.Log.Format, "text", "json") {
		bad("log.format", "%q: use text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

// checkBaseURL accepts https URLs, and http only on loopback.
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q: plain http is only allowed on loopback; use https", raw)
	}
	return fmt.Errorf("%q: scheme must be https", raw)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func oneOf(s string, options ...string) bool {
	for _, o := range options {
		if s == o {
			return true
		}
	}
	return false
}

// ParseWindow reads a maintenance window like "02:00-05:00" (local time
// of day; "22:00-04:00" spans midnight) as minutes after midnight.
func ParseWindow(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not a window like 02:00-05:00", s)
	}
	parse := func(hm string) (int, error) {
		t, err := time.Parse("15:04", strings.TrimSpace(hm))
		if err != nil {
			return 0, fmt.Errorf("%q is not a window like 02:00-05:00", s)
		}
		return t.Hour()*60 + t.Minute(), nil
	}
	if from, err = parse(a); err != nil {
		return 0, 0, err
	}
	if to, err = parse(b); err != nil {
		return 0, 0, err
	}
	if from == to {
		return 0, 0, fmt.Errorf("%q is an empty window", s)
	}
	return from, to, nil
}
