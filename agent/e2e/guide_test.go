package e2e

import (
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"casefleet/agent/config"
)

// The technician's guide is followed literally, on a kiosk, with nobody to
// ask: every command it gives must exist with the flags it shows, every
// dashboard URL must answer, and what it says doctor reads must be so.
func TestTechnicianGuideMatchesTheAgent(t *testing.T) {
	raw, err := os.ReadFile("../../docs/technician-guide.md")
	if err != nil {
		t.Fatal(err)
	}
	guide := string(raw)
	if strings.Contains(guide, "(coming)") {
		t.Error("the guide still calls a command (coming)")
	}

	// casefleet-agent SUBCOMMAND [--flag ...], up to the end of the code
	// span, a comment or the line.
	commands := []string{"run", "doctor", "status", "enroll", "discover", "version"}
	cmdRE := regexp.MustCompile("casefleet-agent(?:\\.exe\"?)? ([a-z]+)([^`#\\n]*)")
	helps := map[string]string{}
	for _, m := range cmdRE.FindAllStringSubmatch(guide, -1) {
		sub, rest := m[1], m[2]
		if !slices.Contains(commands, sub) {
			t.Errorf("the guide gives `casefleet-agent %s`, which is no command (%v)", sub, commands)
			continue
		}
		if _, ok := helps[sub]; !ok {
			helps[sub], _ = runAgentCLI(t, nil, sub, "--help")
		}
		for _, flag := range regexp.MustCompile(`--[a-z][a-z-]*`).FindAllString(rest, -1) {
			if !strings.Contains(helps[sub], flag+" ") {
				t.Errorf("the guide gives `casefleet-agent %s ... %s`, which `%s --help` does not know:\n%s", sub, flag, sub, helps[sub])
			}
		}
	}
	if len(helps) < 4 {
		t.Fatalf("found commands for only %v in the guide: is the pattern right?", helps)
	}

	// Without --config, doctor reads the installed file: the guide says
	// which.
	if !strings.Contains(guide, "`"+config.DefaultFile()+"`") || strings.Contains(guide, "built-in defaults") {
		t.Errorf("the guide does not say doctor reads %s without --config", config.DefaultFile())
	}

	// Every dashboard URL it gives answers with the dashboard (its login
	// page first), on a running kiosk with a PIN.
	urls := regexp.MustCompile(`http://[A-Z0-9.-]+:7080(/[^`+"`"+`\s)]*)`).FindAllStringSubmatch(guide, -1)
	if len(urls) == 0 {
		t.Fatal("the guide gives no dashboard URL")
	}
	k := startKiosk(t, nil, "CASEFLEET_LAN_OPERATOR_PIN=246810")
	for _, u := range urls {
		resp, err := http.Get("http://" + k.lanAddr + u[1])
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<title>Operator ") {
			t.Errorf("the guide's %s: %s, not the dashboard's page:\n%.600s", u[0], resp.Status, body)
		}
	}
}
