package chitu

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"casefleet/shared/machine"
)

// Defaults of Config.
const (
	DefaultBaseURL     = "https://www.gzchitu.cn"
	DefaultHTTPTimeout = 15 * time.Second
)

// Values of Config.TopicSource: what is md5-hashed into the event topic.
const (
	TopicFromMachineID = "machineId"
	TopicFromDeviceID  = "device_id"
)

// Values of Config.Encoding: how open-API request bodies are encoded.
const (
	EncodingJSON = "json"
	EncodingForm = "form"
)

// Config says how to reach one printer through the vendor's cloud. The
// settings marked uncertain in the protocol document (TopicSource,
// CleanSession, Encoding) are here so a technician can switch them without
// a new build.
type Config struct {
	BaseURL     string // open API base, default DefaultBaseURL
	AppID       string
	AppSecret   string
	MachineCode string // e.g. CT0700026
	PayType     string // pay_type of machineCreateOrder, e.g. "nayax"

	MQTTURL      string // tcp://, ssl://, ws:// or wss://
	MQTTUsername string // default: AppID
	MQTTPassword string
	TopicSource  string // TopicFromMachineID (default) or TopicFromDeviceID
	// CleanSession asks the broker for a clean session. The zero value, a
	// persistent session under the stable client id casefleet-CODE, is the
	// safe one: the broker keeps the order statuses published while the
	// agent is down (a restart, a cut link) and delivers them when it is
	// back, so a case that printed meanwhile is not taken for lost.
	CleanSession bool

	Encoding    string        // EncodingJSON (default) or EncodingForm
	HTTPTimeout time.Duration // per open-API call, default DefaultHTTPTimeout
	HTTPClient  *http.Client  // default: a client on http.DefaultTransport
	Logger      *slog.Logger  // default: slog.Default()
}

// LogValue keeps the app secret and the MQTT password out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("app_id", c.AppID),
		slog.String("machine", c.MachineCode),
		slog.String("pay_type", c.PayType),
		slog.String("mqtt_url", c.MQTTURL),
		slog.String("mqtt_username", c.MQTTUsername),
		slog.String("topic_source", c.TopicSource),
		slog.Bool("clean_session", c.CleanSession),
		slog.String("encoding", c.Encoding),
		slog.Duration("http_timeout", c.HTTPTimeout),
	)
}

// withDefaults fills in the unset settings.
func (c Config) withDefaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.MQTTUsername == "" {
		c.MQTTUsername = c.AppID
	}
	if c.TopicSource == "" {
		c.TopicSource = TopicFromMachineID
	}
	if c.Encoding == "" {
		c.Encoding = EncodingJSON
	}
	if c.HTTPTimeout == 0 {
		c.HTTPTimeout = DefaultHTTPTimeout
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// validate names the first bad setting by its configuration key.
func (c Config) validate() error {
	if err := machine.ValidateCode(c.MachineCode); err != nil {
		return fmt.Errorf("machine.code: %w", err)
	}
	if err := checkURL("chitu.base_url", c.BaseURL, "http", "https"); err != nil {
		return err
	}
	for _, s := range []struct{ key, value string }{
		{"chitu.app_id", c.AppID},
		{"chitu.app_secret", c.AppSecret},
		{"chitu.pay_type", c.PayType},
	} {
		if strings.TrimSpace(s.value) == "" {
			return fmt.Errorf("%s is empty", s.key)
		}
	}
	// The schemes paho dials itself; "unix" is left out on purpose.
	if err := checkURL("chitu.mqtt_url", c.MQTTURL,
		"tcp", "mqtt", "ssl", "tls", "mqtts", "tcps", "ws", "wss"); err != nil {
		return err
	}
	switch c.TopicSource {
	case TopicFromMachineID, TopicFromDeviceID:
	default:
		return fmt.Errorf("chitu.topic_source %q: want %q or %q", c.TopicSource, TopicFromMachineID, TopicFromDeviceID)
	}
	switch c.Encoding {
	case EncodingJSON, EncodingForm:
	default:
		return fmt.Errorf("chitu.encoding %q: want %q or %q", c.Encoding, EncodingJSON, EncodingForm)
	}
	if c.HTTPTimeout < 0 {
		return fmt.Errorf("chitu.timeout %v is negative", c.HTTPTimeout)
	}
	return nil
}

func checkURL(key, raw string, schemes ...string) error {
	if raw == "" {
		return fmt.Errorf("%s is empty", key)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	for _, s := range schemes {
		if u.Scheme == s {
			if u.Host == "" {
				return fmt.Errorf("%s %q has no host", key, raw)
			}
			return nil
		}
	}
	return fmt.Errorf("%s %q: scheme must be one of %s", key, raw, strings.Join(schemes, ", "))
}
