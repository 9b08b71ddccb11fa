package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"casefleet/agent/installer"
)

// sandbox is what both services must set: no new privileges, a read-only
// system, no access to homes, devices or other users' /tmp, a syscall
// allow-list. (Capabilities: none for the agent; for the relay only
// binding ports below 1024, for HTTPS on 443 and 80.)
var sandbox = map[string]string{
	"NoNewPrivileges":        "yes",
	"ProtectSystem":          "strict",
	"ProtectHome":            "yes",
	"PrivateTmp":             "yes",
	"PrivateDevices":         "yes",
	"ProtectKernelTunables":  "yes",
	"ProtectKernelModules":   "yes",
	"ProtectControlGroups":   "yes",
	"RestrictNamespaces":     "yes",
	"RestrictSUIDSGID":       "yes",
	"MemoryDenyWriteExecute": "yes",
	"SystemCallFilter":       "@system-service",
	"Restart":                "on-failure",
	"WantedBy":               "multi-user.target",
}

func TestUnitsAreHardened(t *testing.T) {
	for _, tc := range []struct {
		unit     string
		specific map[string]string
		families string
	}{
		{
			unit: "agent/casefleet-agent.service",
			specific: map[string]string{
				"User":                  "casefleet",
				"Group":                 "casefleet",
				"StateDirectory":        "casefleet", // /var/lib/casefleet, the default data_dir
				"CapabilityBoundingSet": "",
				"AmbientCapabilities":   "",
				"EnvironmentFile":       "-/etc/default/casefleet-agent",
				"ExecStart":             "/usr/bin/casefleet-agent run --config /etc/casefleet/agent.yaml",
			},
			// mDNS needs multicast over AF_INET/AF_INET6 and the interface
			// list over AF_NETLINK.
			families: "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
		},
		{
			unit: "relay/casefleet-relay.service",
			specific: map[string]string{
				"DynamicUser":     "yes",
				"EnvironmentFile": "/etc/casefleet/relay.env",
				"ExecStart":       "/usr/bin/casefleet-relay run",
				// HTTPS on 443 and 80 (tls_domain), and the ACME cache in
				// $STATE_DIRECTORY/acme.
				"CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
				"AmbientCapabilities":   "CAP_NET_BIND_SERVICE",
				"StateDirectory":        "casefleet-relay",
			},
			families: "AF_INET AF_INET6 AF_UNIX",
		},
	} {
		t.Run(filepath.Base(tc.unit), func(t *testing.T) {
			got := unitDirectives(t, tc.unit)
			want := map[string]string{"RestrictAddressFamilies": tc.families}
			for k, v := range sandbox {
				want[k] = v
			}
			for k, v := range tc.specific {
				want[k] = v
			}
			for key, value := range want {
				if !slices.Contains(got[key], value) {
					t.Errorf("%s=%s missing (have %q)", key, value, got[key])
				}
			}
			if _, err := exec.LookPath("systemd-analyze"); err != nil {
				t.Log("systemd-analyze is not installed: exposure score not checked")
				return
			}
			// "exposure" runs from 0 (locked down) to 10 (unrestricted);
			// the threshold is in tenths.
			out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold=20", tc.unit).CombinedOutput()
			if err != nil {
				t.Errorf("systemd-analyze security: exposure above 2.0 or error: %v\n%s", err, out)
			}
		})
	}
}

// The update installer runs as root, unlike the agent: dpkg and rpm write
// /usr, /etc and their databases and run the package's maintainer scripts
// (useradd, systemctl). So its unit has neither User= nor ProtectSystem=
// nor NoNewPrivileges= (which keeps SELinux from giving rpm's scriptlets
// their domain); the rest of the sandbox holds, and it has no network.
func TestUpdateUnitsAreHardened(t *testing.T) {
	path := unitDirectives(t, "agent/casefleet-agent-update.path")
	for key, value := range map[string]string{
		"PathChanged": filepath.Join(installer.DefaultDir, installer.RequestFile),
		"Unit":        "casefleet-agent-update.service",
		"WantedBy":    "paths.target",
	} {
		if !slices.Contains(path[key], value) {
			t.Errorf("path unit: %s=%s missing (have %q)", key, value, path[key])
		}
	}

	const unit = "agent/casefleet-agent-update.service"
	got := unitDirectives(t, unit)
	for key, value := range map[string]string{
		"Type":      "oneshot",
		"ExecStart": "/usr/bin/casefleet-agent update-install",
		// Killed before it wrote its result: run again to finish; and at
		// boot, for a power cut.
		"Restart":                 "on-failure",
		"WantedBy":                "multi-user.target",
		"StateDirectory":          filepath.Base(installer.DefaultWork),
		"StateDirectoryMode":      "0700",
		"PrivateNetwork":          "yes",
		"RestrictAddressFamilies": "AF_UNIX AF_NETLINK",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectControlGroups":    "yes",
		"RestrictNamespaces":      "yes",
		"MemoryDenyWriteExecute":  "yes",
	} {
		if !slices.Contains(got[key], value) {
			t.Errorf("%s=%s missing (have %q)", key, value, got[key])
		}
	}
	for _, key := range []string{"User", "DynamicUser", "ProtectSystem", "NoNewPrivileges"} {
		if len(got[key]) > 0 {
			t.Errorf("%s=%q: the installer must be root, free to write the system", key, got[key])
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze is not installed: exposure score not checked")
		return
	}
	// 2.7 when written: root, but no network and a closed kernel.
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold=30", unit).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 3.0 or error: %v\n%s", err, out)
	}
}

func TestMaintainerScriptsParse(t *testing.T) {
	scripts, err := filepath.Glob("*/*/*")
	if err != nil {
		t.Fatal(err)
	}
	scripts = slices.DeleteFunc(scripts, func(p string) bool {
		return !strings.Contains(p, "/deb/") && !strings.Contains(p, "/rpm/")
	})
	if len(scripts) < 7 {
		t.Fatalf("found only %v", scripts)
	}
	for _, script := range scripts {
		info, err := os.Stat(script)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", script)
		}
		if out, err := exec.Command("sh", "-n", script).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", script, err, out)
		}
		body, _ := os.ReadFile(script)
		if !strings.HasPrefix(string(body), "#!/bin/sh\n") {
			t.Errorf("%s must start with #!/bin/sh (dpkg and rpm run it with no bash)", script)
		}
		// Containers and chroots have no running systemd: the scripts must
		// check before they ask it to start or stop anything.
		for _, verb := range []string{"start", "restart", "stop", "try-restart", "daemon-reload"} {
			if regexp.MustCompile(`(systemctl|deb-systemd-invoke)[^\n]* `+verb+`\b`).Match(body) &&
				!strings.Contains(string(body), "[ -d /run/systemd/system ]") {
				t.Errorf("%s runs systemctl %s without checking that systemd is running", script, verb)
			}
		}
	}
	if out, err := exec.Command("bash", "-n", "build.sh").CombinedOutput(); err != nil {
		t.Errorf("bash -n build.sh: %v\n%s", err, out)
	}
}

// The container image is not built here (no engine on CI); its recipe is
// checked for what matters: a separate build stage, a minimal final image,
// a non-root user.
func TestRelayContainerfile(t *testing.T) {
	body, err := os.ReadFile("relay.Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	var user string
	for _, line := range strings.Split(string(body), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "FROM":
			froms = append(froms, strings.Join(fields[1:], " "))
		case "USER":
			user = fields[1]
		}
	}
	if len(froms) != 2 || !strings.HasSuffix(froms[0], " AS build") {
		t.Errorf("want a build stage and a final stage, have FROM %q", froms)
	}
	if final := froms[len(froms)-1]; !strings.Contains(final, "distroless/static") && final != "scratch" {
		t.Errorf("final image %q: want distroless/static or scratch", final)
	}
	if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
		t.Errorf("USER %q: the relay must not run as root", user)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./relay/cmd/casefleet-relay", "COPY --from=build"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("recipe lacks %q", want)
		}
	}
}
