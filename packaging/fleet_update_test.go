//go:build linux

package packaging

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/agent/installer"
	"casefleet/relay/fleet"
	"casefleet/relay/relaytest"
	"casefleet/relay/server"
	"casefleet/relay/updates"
	"casefleet/shared/release"
	"casefleet/shared/release/releasetest"
	"casefleet/shared/testenv"
)

// TestFleetUpdatesItselfThroughTheRelay is issue 12's whole path with the
// real binaries: four kiosks run v1.0.0, each installed with the real
// dpkg in a throw-away root of its own; the relay (the real binary) rolls
// out v1.1.0 to 50% of them. The two it picks download the release
// through their tunnels, verify it, hand it to the installer (the real
// update-install, started by the test as the path unit would start it),
// get it installed by dpkg, restart (the test plays systemd) and report
// healthy; the other two stay on v1.0.0. Then a v1.2.0 whose binary exits
// at start goes to one canary: it is installed, never comes up, is rolled
// back to v1.1.0, and the rollout halts, so widening it changes nothing.
func TestFleetUpdatesItselfThroughTheRelay(t *testing.T) {
	slow(t)
	needRoot(t) // dpkg --root chroots into the throw-away roots
	needTools(t, "dpkg", "dpkg-deb", "dpkg-query")
	need(t, runtime.GOARCH == "amd64", "this machine is "+runtime.GOARCH, "build.sh makes amd64 packages by default: run on amd64")

	keys, _, priv := releasetest.Keys(t)
	releaseKey, releasePub := filepath.Join(keys, release.PrivateKeyFile), filepath.Join(keys, release.PublicKeyFile)

	// The releases, as make package RELEASE_KEY=... writes them, in the
	// relay's releases directory.
	releases := t.TempDir()
	debs := map[string]string{}
	for _, v := range []string{"v1.0.0", "v1.1.0"} {
		out := t.TempDir()
		run(t, "./build.sh", "-o", out, "-v", v, "-k", releaseKey, "agent-deb")
		debs[v] = only(t, out, "casefleet-agent_"+v[1:]+"_*.deb")
		dir := filepath.Join(releases, v)
		os.MkdirAll(dir, 0o755)
		run(t, "cp", debs[v], filepath.Join(out, updates.ManifestName(v)), dir)
	}
	debs["v1.2.0"] = brokenAgentDeb(t, "v1.2.0")
	broken := filepath.Join(releases, "v1.2.0")
	os.MkdirAll(broken, 0o755)
	run(t, "cp", debs["v1.2.0"], broken)
	p, err := release.Describe(filepath.Join(broken, filepath.Base(debs["v1.2.0"])))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := release.Sign(priv, release.Manifest{Version: "v1.2.0", Created: time.Now(), Packages: []release.Package{p}})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(broken, updates.ManifestName("v1.2.0")), signed, 0o644)

	// Four machines: two that a 50% rollout picks, two it does not.
	half := updates.Rollout{Target: "v1.1.0", Percent: 50}
	var picked, left []string
	for i := 0; len(picked) < 2 || len(left) < 2; i++ {
		code := fmt.Sprintf("CT%07d", 710000+i)
		switch {
		case half.Chooses(code, "") && len(picked) < 2:
			picked = append(picked, code)
		case !half.Chooses(code, "") && len(left) < 2:
			left = append(left, code)
		}
	}
	codes := append(append([]string{}, picked...), left...)

	rolloutFile := filepath.Join(t.TempDir(), "rollout.yaml")
	if err := half.Save(rolloutFile); err != nil {
		t.Fatal(err)
	}
	f := relaytest.NewFleet(t)
	relayBin := filepath.Join(t.TempDir(), "casefleet-relay")
	run(t, "go", "build", "-o", relayBin, "casefleet/relay/cmd/casefleet-relay")
	addr := testenv.FreeAddr(t)
	relayURL := "http://" + addr
	relay := testenv.StartProcess(t, "relay", relayBin, nil, "run", "--listen", addr, "--fleet-pub", f.PubFile,
		"--public-url", relayURL, "--rate-ip", "0", "--rate-session", "0", "--keepalive", "5s", "--log-level", "debug",
		"--releases-dir", releases, "--release-pub", releasePub, "--rollout", rolloutFile)
	testenv.Eventually(t, relaytest.Wait, "the relay ready", func() bool {
		resp, err := http.Get(relayURL + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	admin, _, err := fleet.IssueAdmin(fleet.AdminRequest{KeyFile: filepath.Join(filepath.Dir(f.PubFile), "fleet.key"), Name: "owner"})
	if err != nil {
		t.Fatal(err)
	}
	rollout := func() server.RolloutStatus {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, relayURL+"/relay/v1/rollout", nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st server.RolloutStatus
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}

	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: codes})
	kiosks := map[string]*kiosk{}
	for _, code := range codes {
		kiosks[code] = startKiosk(t, kioskOptions{
			code: code, deb: debs["v1.0.0"], releasePub: releasePub, relayURL: relayURL,
			token: f.Token(t, code, "mall-3f"), sim: sim,
		})
	}

	// v1.1.0 to half the fleet.
	testenv.Eventually(t, 4*time.Minute, "the two picked machines healthy on v1.1.0", func() bool {
		return rollout().Machines[updates.StateHealthy] == 2
	})
	for _, code := range picked {
		if got := kiosks[code].installed(t); got != "ii 1.1.0" {
			t.Errorf("%s (picked): dpkg says %q, want v1.1.0", code, got)
		}
		if v := kiosks[code].runningVersion(t); v != "v1.1.0" {
			t.Errorf("%s (picked): the running agent is %q", code, v)
		}
	}
	for _, code := range left {
		if got := kiosks[code].installed(t); got != "ii 1.0.0" {
			t.Errorf("%s (not picked): dpkg says %q, want v1.0.0", code, got)
		}
	}

	// A broken v1.2.0 to one canary: rolled back, and the rollout halts.
	canary := picked[0]
	if err := (updates.Rollout{Target: "v1.2.0", Canaries: []string{canary}, HaltAfter: 1}).Save(rolloutFile); err != nil {
		t.Fatal(err)
	}
	relay.Signal(syscall.SIGHUP)
	testenv.Eventually(t, 4*time.Minute, "the broken version rolled back on the canary and the rollout halted", func() bool {
		st := rollout()
		return st.Target == "v1.2.0" && st.Halted && st.Failed[canary] == updates.StateRolledBack
	})
	if got := kiosks[canary].installed(t); got != "ii 1.1.0" {
		t.Errorf("the canary after the rollback: dpkg says %q, want v1.1.0", got)
	}
	var result installer.Result
	b, _ := os.ReadFile(filepath.Join(kiosks[canary].updateDir(), installer.ResultFile))
	if json.Unmarshal(b, &result); result.State != installer.RolledBack || result.Version != "v1.2.0" {
		t.Errorf("the canary's result.json: %s", b)
	}
	testenv.Eventually(t, time.Minute, "the canary running v1.1.0 again", func() bool { return kiosks[canary].runningVersion(t) == "v1.1.0" })

	// Widened after the halt, the broken version goes nowhere.
	if err := (updates.Rollout{Target: "v1.2.0", Percent: 100, HaltAfter: 1}).Save(rolloutFile); err != nil {
		t.Fatal(err)
	}
	relay.Signal(syscall.SIGHUP)
	for _, k := range kiosks {
		k.askedAgain(t)
	}
	for _, code := range codes[1:] {
		if _, err := os.Stat(filepath.Join(kiosks[code].updateDir(), "casefleet-agent_1.2.0_amd64.deb")); err == nil {
			t.Errorf("%s downloaded v1.2.0 after the rollout halted", code)
		}
	}
	if st := rollout(); !st.Halted || st.Machines[updates.StateInstalling] != 0 {
		t.Errorf("rollout after widening: %+v", st)
	}
}

type kioskOptions struct {
	code, deb, releasePub, relayURL, token string
	sim                                    *agenttest.Sim
}

// kiosk is one machine: a throw-away root dpkg installs the agent into,
// the agent running from it, and the test standing in for systemd (it
// restarts the agent when its binary changes or it exits, and runs the
// installer when the agent writes request.json, as the path unit does).
type kiosk struct {
	opt   kioskOptions
	root  string
	agent *testenv.Process
	lan   string
}

func startKiosk(t *testing.T, opt kioskOptions) *kiosk {
	t.Helper()
	k := &kiosk{opt: opt, root: throwAwayRoot(t), lan: testenv.FreeAddr(t)}
	run(t, "dpkg", "--root="+k.root, "-i", opt.deb)
	os.MkdirAll(filepath.Join(k.root, "etc/casefleet"), 0o755)
	run(t, "cp", opt.releasePub, filepath.Join(k.root, "etc/casefleet/release.pub"))
	os.MkdirAll(k.updateDir(), 0o750)
	cfgFile := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfgFile, []byte("# all settings from the environment\n"), 0o600)
	env := []string{
		"CASEFLEET_MACHINE_CODE=" + opt.code, "CASEFLEET_MACHINE_NAME=Kiosk " + opt.code, "CASEFLEET_MACHINE_LOCATION=mall-3f",
		"CASEFLEET_DATA_DIR=" + filepath.Join(k.root, "var/lib/casefleet"),
		"CASEFLEET_LAN_LISTEN=" + k.lan, "CASEFLEET_LAN_INTERFACES=lo",
		"CASEFLEET_CHITU_BASE_URL=" + opt.sim.URL, "CASEFLEET_CHITU_APP_ID=" + agenttest.AppID,
		"CASEFLEET_CHITU_APP_SECRET=" + agenttest.AppSecret, "CASEFLEET_CHITU_MQTT_URL=" + opt.sim.MQTTURL,
		"CASEFLEET_CHITU_MQTT_PASSWORD=" + agenttest.MQTTPassword, "CASEFLEET_CHITU_POLL_INTERVAL=300ms",
		"CASEFLEET_RELAY_URL=" + opt.relayURL, "CASEFLEET_RELAY_TOKEN=" + opt.token,
		"CASEFLEET_UPDATE_RELEASE_PUB=" + filepath.Join(k.root, "etc/casefleet/release.pub"),
		"CASEFLEET_UPDATE_FORMAT_FILE=" + filepath.Join(k.root, "usr/lib/casefleet-agent/package-format"),
		"CASEFLEET_UPDATE_HEALTH_DEADLINE=5s", "CASEFLEET_UPDATE_CHECK_INTERVAL=2s",
		"CASEFLEET_LOG_LEVEL=debug",
	}
	k.agent = testenv.StartProcess(t, "agent "+opt.code, k.binary(), env, "run", "--config", cfgFile)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		k.supervise(t, stop)
	}()
	// Before the agent is killed (cleanups run last first): no restart
	// after it, no installer left running.
	t.Cleanup(func() { close(stop); <-stopped })
	return k
}

func (k *kiosk) binary() string    { return filepath.Join(k.root, "usr/bin/casefleet-agent") }
func (k *kiosk) updateDir() string { return filepath.Join(k.root, "var/lib/casefleet/update") }

// installed is the agent's package state and version in the kiosk's root.
func (k *kiosk) installed(t *testing.T) string {
	return run(t, "dpkg-query", "--root="+k.root, "-W", "-f=${db:Status-Abbrev}${Version}", "casefleet-agent")
}

// runningVersion is the version the agent said when it last started.
func (k *kiosk) runningVersion(t *testing.T) string {
	out := k.agent.Output()
	i := strings.LastIndex(out, "agent ready")
	if i < 0 {
		return ""
	}
	line, _, _ := strings.Cut(out[i:], "\n")
	_, v, ok := strings.Cut(line, " version=")
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(v, " ")
	return v
}

// askedAgain waits until the agent has asked the relay twice more.
func (k *kiosk) askedAgain(t *testing.T) {
	t.Helper()
	n := k.agent.Count("asked the relay for updates")
	testenv.Eventually(t, time.Minute, k.opt.code+" asking the relay again", func() bool {
		return k.agent.Count("asked the relay for updates") >= n+2
	})
}

// supervise is systemd for the kiosk until the test ends: the agent is
// restarted when dpkg replaced its binary (postinst restarts it) or when
// it exited (Restart=on-failure), and the installer runs when request.json
// changes (casefleet-agent-update.path).
func (k *kiosk) supervise(t *testing.T, stop <-chan struct{}) {
	stamp := func(p string) string {
		fi, err := os.Stat(p)
		if err != nil {
			return ""
		}
		st := fi.Sys().(*syscall.Stat_t)
		return fmt.Sprint(st.Ino, fi.Size(), fi.ModTime().UnixNano())
	}
	bin, request := stamp(k.binary()), ""
	var installing atomic.Bool
	var installers sync.WaitGroup
	defer installers.Wait()
	work := filepath.Join(t.TempDir(), "casefleet-update")
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if now := stamp(filepath.Join(k.updateDir(), installer.RequestFile)); now != "" && now != request && !installing.Load() {
			// The installer waits for the new agent's health: it runs
			// beside this loop, which restarts the agent meanwhile. Its
			// binary is copied first, as dpkg replaces the installed one.
			request = now
			installing.Store(true)
			installers.Go(func() {
				defer installing.Store(false)
				bin := filepath.Join(t.TempDir(), "update-install")
				exec.Command("cp", k.binary(), bin).Run()
				out, err := exec.Command(bin, "update-install", "--root", k.root, "--dir", k.updateDir(),
					"--work", work, "--release-pub", filepath.Join(k.root, "etc/casefleet/release.pub")).CombinedOutput()
				t.Logf("%s: update-install (%v):\n%s", k.opt.code, err, out)
			})
		}
		exited := false
		select {
		case <-k.agent.Done():
			exited = true
		default:
		}
		if now := stamp(k.binary()); now != bin || exited {
			bin = now
			k.agent.Kill()
			if exited {
				time.Sleep(500 * time.Millisecond) // RestartSec
			}
			k.agent.Start(t)
		}
	}
}
