package chitu

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "default base URL", edit: func(c *Config) { c.BaseURL = "" }},
		{name: "wss broker", edit: func(c *Config) { c.MQTTURL = "wss://open-mqtt.gzchitu.cn/mqtt" }},
		{name: "ssl broker", edit: func(c *Config) { c.MQTTURL = "ssl://open-mqtt.gzchitu.cn:8883" }},
		{name: "device_id topics, form bodies", edit: func(c *Config) { c.TopicSource, c.Encoding = TopicFromDeviceID, EncodingForm }},
		{name: "no app id", edit: func(c *Config) { c.AppID = "" }, wantErr: "chitu.app_id is empty"},
		{name: "blank secret", edit: func(c *Config) { c.AppSecret = "  " }, wantErr: "chitu.app_secret is empty"},
		{name: "no pay type", edit: func(c *Config) { c.PayType = "" }, wantErr: "chitu.pay_type is empty"},
		{name: "no code", edit: func(c *Config) { c.MachineCode = "" }, wantErr: "machine.code"},
		{name: "bad code", edit: func(c *Config) { c.MachineCode = "ct0700026" }, wantErr: "machine.code"},
		{name: "no broker", edit: func(c *Config) { c.MQTTURL = "" }, wantErr: "chitu.mqtt_url is empty"},
		{name: "broker scheme", edit: func(c *Config) { c.MQTTURL = "http://broker:1883" }, wantErr: "chitu.mqtt_url"},
		{name: "broker without host", edit: func(c *Config) { c.MQTTURL = "tcp://" }, wantErr: "has no host"},
		{name: "base URL scheme", edit: func(c *Config) { c.BaseURL = "ftp://www.gzchitu.cn" }, wantErr: "chitu.base_url"},
		{name: "base URL unparsable", edit: func(c *Config) { c.BaseURL = "http://[::1" }, wantErr: "chitu.base_url"},
		{name: "topic source", edit: func(c *Config) { c.TopicSource = "md5" }, wantErr: "chitu.topic_source"},
		{name: "encoding", edit: func(c *Config) { c.Encoding = "xml" }, wantErr: "chitu.encoding"},
		{name: "negative timeout", edit: func(c *Config) { c.HTTPTimeout = -time.Second }, wantErr: "chitu.timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("https://www.gzchitu.cn", testCode)
			tt.edit(&cfg)
			// newDriver checks like Dial but starts nothing: no call may
			// leave loopback.
			_, err := newDriver(cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Dial accepted the config, want an error naming %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDialRefusesABadConfig(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1", testCode)
	cfg.AppID = ""
	d, err := Dial(t.Context(), cfg)
	if err == nil {
		d.Close()
		t.Fatal("Dial accepted a config without app id")
	}
	if !strings.Contains(err.Error(), "chitu.app_id is empty") {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg := Config{AppID: "app"}.withDefaults()
	switch {
	case cfg.BaseURL != DefaultBaseURL:
		t.Errorf("BaseURL %q", cfg.BaseURL)
	case cfg.MQTTUsername != "app":
		t.Errorf("MQTTUsername %q, want the app id", cfg.MQTTUsername)
	case cfg.TopicSource != TopicFromMachineID:
		t.Errorf("TopicSource %q", cfg.TopicSource)
	case cfg.Encoding != EncodingJSON:
		t.Errorf("Encoding %q", cfg.Encoding)
	case cfg.HTTPTimeout != DefaultHTTPTimeout:
		t.Errorf("HTTPTimeout %v", cfg.HTTPTimeout)
	case cfg.HTTPClient == nil || cfg.Logger == nil:
		t.Error("no HTTP client or logger")
	}
	if got := (Config{BaseURL: "http://127.0.0.1:8080/"}).withDefaults().BaseURL; got != "http://127.0.0.1:8080" {
		t.Errorf("trailing slash kept: %q", got)
	}
}
