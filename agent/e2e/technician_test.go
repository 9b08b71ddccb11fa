package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"casefleet/shared/enroll"
	"casefleet/shared/release"
	"casefleet/shared/release/releasetest"
	"casefleet/shared/testenv"
)

// Issue 11, the technician's path: a kiosk set up by the guide but without
// lan.operator_pin works for customers, yet its dashboard and `status`
// answer 403. doctor must not call that a clean pass.
func TestDoctorWarnsWithoutAnOperatorPIN(t *testing.T) {
	s := startSim(t, []string{code})
	env := agentEnv(code, t.TempDir(), testenv.FreeAddr(t), s.URL, "tcp://"+s.mqttAddr(), "CASEFLEET_LAN_OPERATOR_PIN=")
	out, exit := runAgentCLI(t, env, "doctor")
	if exit != 0 {
		t.Fatalf("a missing PIN is a warning, not a failure: exit %d\n%s", exit, out)
	}
	for _, want := range []string{"[warn] operator PIN", "lan.operator_pin is not set", "403", "/operator/", "fix:", "enroll --set-pin", "warning(s) above need attention"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor without a PIN does not say %q:\n%s", want, out)
		}
	}

	// status, which needs the PIN, names the same fix.
	if out, exit := runAgentCLI(t, env, "status"); exit != 1 || !strings.Contains(out, "enroll --set-pin") {
		t.Errorf("status without a PIN: exit %d\n%s", exit, out)
	}

	withPIN := append(env, "CASEFLEET_LAN_OPERATOR_PIN=246810")
	out, exit = runAgentCLI(t, withPIN, "doctor")
	if exit != 0 || strings.Contains(out, "[warn]") || !strings.Contains(out, "All checks passed.\n") || strings.Contains(out, "246810") {
		t.Fatalf("doctor with a PIN: exit %d\n%s", exit, out)
	}
}

// enroll on the shipped config: it writes the relay, machine and the PIN
// given with --operator-pin, never prints the PIN, and leaves the rest of
// the technician's file byte for byte.
func TestEnrollSetsThePINAndKeepsTheShippedFile(t *testing.T) {
	pub, priv, err := enroll.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	relay, accepted := testRelay(t, pub)
	token, err := enroll.Issue(priv, enroll.Claims{Machine: code})
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile("../../packaging/agent/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfgPath, shipped, 0o640)

	out, exit := runAgentCLI(t, nil, "enroll", "--relay", relay.URL, "--token", token, "--operator-pin", "024680", "--config", cfgPath, "--no-start")
	if exit != 0 || !strings.Contains(out, "operator PIN set") || strings.Contains(out, "024680") {
		t.Fatalf("enroll: exit %d\n%s", exit, out)
	}
	<-accepted
	got, _ := os.ReadFile(cfgPath)
	want := string(shipped)
	for _, kv := range [][2]string{
		// Quoted as the shipped values are.
		{`  code: ""  `, `  code: "` + code + `"  `},
		{`  url: ""  `, `  url: "` + relay.URL + `"  `},
		{`  token: ""  `, `  token: "` + token + `"  `},
	} {
		if !strings.Contains(want, kv[0]) {
			t.Fatalf("the shipped agent.yaml has no %q", kv[0])
		}
		want = strings.Replace(want, kv[0], kv[1], 1)
	}
	// The PIN goes right under its commented-out example.
	example := "  # operator_pin: \"\"" // see packaging/agent/agent.yaml
	i := strings.Index(want, example)
	if i < 0 {
		t.Fatalf("the shipped agent.yaml has no commented %q", example)
	}
	eol := i + strings.Index(want[i:], "\n") + 1
	want = want[:eol] + "  operator_pin: \"024680\"\n" + want[eol:]
	if string(got) != want {
		t.Fatalf("enroll changed more than its keys:\n%s\nwant\n%s", got, want)
	}

	// --set-pin: only the PIN, no relay; without a terminal it needs the flag.
	if out, exit := runAgentCLI(t, nil, "enroll", "--set-pin", "--config", cfgPath, "--no-start"); exit != 1 || !strings.Contains(out, "--operator-pin") {
		t.Fatalf("enroll --set-pin without a terminal: exit %d\n%s", exit, out)
	}
	if out, exit := runAgentCLI(t, nil, "enroll", "--operator-pin", "135790", "--config", cfgPath, "--no-start"); exit != 0 || strings.Contains(out, "135790") {
		t.Fatalf("enroll --operator-pin alone: exit %d\n%s", exit, out)
	}
	got, _ = os.ReadFile(cfgPath)
	if string(got) != strings.Replace(want, `operator_pin: "024680"`, `operator_pin: "135790"`, 1) {
		t.Fatalf("changing the PIN changed more:\n%s", got)
	}
}

// doctor says whether the kiosk will update itself, as the agent decides
// it: off and why for an agent not installed from a package, a warning
// for a packaged one without the fleet's release key (it runs, but never
// takes an update), and on, for its platform, once the key is there.
func TestDoctorSaysWhetherTheKioskUpdatesItself(t *testing.T) {
	s := startSim(t, []string{code})
	dataDir := t.TempDir()
	env := agentEnv(code, dataDir, testenv.FreeAddr(t), s.URL, "tcp://"+s.mqttAddr(), "CASEFLEET_LAN_OPERATOR_PIN=246810")
	format := filepath.Join(t.TempDir(), "package-format")
	if err := os.WriteFile(format, []byte("deb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	zip := filepath.Join(t.TempDir(), "package-format")
	if err := os.WriteFile(zip, []byte("zip\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keyDir, _, _ := releasetest.Keys(t)
	platform := runtime.GOOS + "-" + runtime.GOARCH + "-deb"
	for _, c := range []struct {
		name string
		env  []string
		want []string
	}{
		{"not from a package", nil, []string{"[skip] updates", "not installed from a package", "All checks passed.\n"}},
		{"switched off", []string{"CASEFLEET_UPDATE_FORMAT_FILE=" + format, "CASEFLEET_UPDATE_ENABLED=false"}, []string{"[skip] updates", "update.enabled is false"}},
		{"packaged, no release key", []string{"CASEFLEET_UPDATE_FORMAT_FILE=" + format, "CASEFLEET_UPDATE_RELEASE_PUB=" + filepath.Join(keyDir, "missing.pub")},
			[]string{"[warn] updates", "no release key (update.release_pub)", "fix:", "release.pub", "docs/updates.md", "warning(s) above need attention"}},
		{"a package format with no release", []string{"CASEFLEET_UPDATE_FORMAT_FILE=" + zip},
			[]string{"[warn] updates", `package format "zip"`, "fix:", "reinstall the agent's package"}},
		{"packaged, with the key", []string{"CASEFLEET_UPDATE_FORMAT_FILE=" + format, "CASEFLEET_UPDATE_RELEASE_PUB=" + filepath.Join(keyDir, release.PublicKeyFile)},
			[]string{"[ok  ] updates", "on, for " + platform, "All checks passed.\n"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, exit := runAgentCLI(t, append(append([]string{}, env...), c.env...), "doctor")
			if exit != 0 {
				t.Fatalf("exit %d: updates never fail doctor\n%s", exit, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("doctor does not say %q:\n%s", w, out)
				}
			}
		})
	}
}
