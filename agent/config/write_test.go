package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestSetKeysKeepsEverythingElse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.yaml")
	orig := "# kiosk settings\nmachine:\n  name: Mall 3F # shown to customers\nchitu:\n  app_id: ctAPPID0001\nrelay:\n  url: https://old.example.com\n"
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	err := SetKeys(path, map[string]string{"relay.url": "https://relay.example.com", "relay.token": "cf1.abc.def", "machine.code": "CT0700026"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	for _, want := range []string{"# kiosk settings", "# shown to customers", "app_id: ctAPPID0001", "url: https://relay.example.com", "token: cf1.abc.def", "code: CT0700026"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("file lacks %q:\n%s", want, raw)
		}
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	Flags(fs)
	_ = fs.Parse([]string{"--config", path})
	c, err := Load(fs)
	if err != nil || c.Relay.URL != "https://relay.example.com" || c.Machine.Code != "CT0700026" || c.Machine.Name != "Mall 3F" {
		t.Fatalf("reloaded %+v, %v", c, err)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want the file's own 0600 kept", info.Mode().Perm())
	}
}

func TestSetKeysCreatesTheFileAndRefusesNonsense(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etc", "agent.yaml")
	if err := SetKeys(path, map[string]string{"relay.url": "https://r.example.com"}); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o640 {
		t.Fatalf("new file mode %v, want 0640", info.Mode().Perm())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("- a list\n- not a mapping\n"), 0o600)
	if err := SetKeys(bad, map[string]string{"relay.url": "x"}); err == nil {
		t.Fatal("a YAML list was taken for a config")
	}
	os.WriteFile(bad, []byte("relay: just-a-string\n"), 0o600)
	if err := SetKeys(bad, map[string]string{"relay.url": "x"}); err == nil {
		t.Fatal("overwrote a scalar with a mapping")
	}
}
