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

// enroll edits the technician's file: everything it does not set stays as
// it was, byte for byte (comments, blank lines, alignment, keys this
// version does not know, a Windows file's line endings).
func TestSetKeysChangesOnlyTheValuesItSets(t *testing.T) {
	for _, nl := range []string{"\n", "\r\n"} {
		orig := strings.ReplaceAll(`# casefleet kiosk agent: this kiosk's settings.
#
# After editing: systemctl restart casefleet-agent

machine:
  code: ""                 # this kiosk's Chitu machine code
  name: "Mall 3F"          # shown to customers

  location:
  future_key: [1, 2]       # a key a newer agent knows

relay:
  url: https://old.example.com # the old relay
  token: ''

lan:
  listen: ":7080"          # local API and operator dashboard
  # operator_pin: "012345"

log:
  level: info
`, "\n", nl)
		want := strings.ReplaceAll(`# casefleet kiosk agent: this kiosk's settings.
#
# After editing: systemctl restart casefleet-agent

machine:
  code: "CT0700026"                 # this kiosk's Chitu machine code
  name: "Mall 3F"          # shown to customers

  location: mall-3f
  future_key: [1, 2]       # a key a newer agent knows

relay:
  url: https://relay.example.com # the old relay
  token: cf1.abc.def

lan:
  listen: ":7080"          # local API and operator dashboard
  # operator_pin: "012345"
  operator_pin: "012345"

log:
  level: info
`, "\n", nl)
		path := filepath.Join(t.TempDir(), "agent.yaml")
		if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
			t.Fatal(err)
		}
		err := SetKeys(path, map[string]string{
			"machine.code": "CT0700026", "machine.location": "mall-3f",
			"relay.url": "https://relay.example.com", "relay.token": "cf1.abc.def",
			"lan.operator_pin": "012345",
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		if string(got) != want {
			t.Errorf("line ending %q: got\n%s\nwant\n%s", nl, got, want)
		}
	}
}

// Keys whose section is missing, or a file that is only comments, get the
// section added at the end.
func TestSetKeysAddsMissingSections(t *testing.T) {
	for _, tc := range []struct{ orig, want string }{
		{"# nothing yet\n", "# nothing yet\nrelay:\n  url: https://r.example.com\n"},
		{"machine:\n    name: x\n", "machine:\n    name: x\nrelay:\n  url: https://r.example.com\n"},
		{"relay:\nlog:\n  level: info", "relay:\n  url: https://r.example.com\nlog:\n  level: info"},
		{"relay:\n    token: t\n\n# the end\n", "relay:\n    token: t\n    url: https://r.example.com\n\n# the end\n"},
	} {
		path := filepath.Join(t.TempDir(), "agent.yaml")
		os.WriteFile(path, []byte(tc.orig), 0o600)
		if err := SetKeys(path, map[string]string{"relay.url": "https://r.example.com"}); err != nil {
			t.Fatalf("%q: %v", tc.orig, err)
		}
		if got, _ := os.ReadFile(path); string(got) != tc.want {
			t.Errorf("from %q got\n%q\nwant\n%q", tc.orig, got, tc.want)
		}
	}
}
