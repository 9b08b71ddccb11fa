// Package doctor checks a kiosk's setup the way a technician would, one
// check at a time, and says for each failure what to fix.
package doctor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"casefleet/agent/chitu"
	"casefleet/agent/config"
	"casefleet/agent/daemon"
	"casefleet/agent/update"
	"casefleet/shared/tunnel"
)

// Check is one line of the report.
type Check struct {
	Name string
	Err  error
	Fix  string // what to do when Err is set
	Info string // what was found when it passed
	Skip bool   // not run: an earlier check it depends on failed
	// Warn marks a check that passed but found something the technician
	// should fix: the agent runs, yet part of it is out of use. Info says
	// what, Fix how.
	Warn bool
	// Details are further lines under a failure (each problem found, and
	// what to do about it).
	Details []string
}

// Run performs every check it can and writes the report to w. It reports
// whether every check passed.
func Run(ctx context.Context, cfg config.Config, loadErr error, w io.Writer) bool {
	var checks []Check
	add := func(c Check) {
		checks = append(checks, c)
		mark, detail := "ok  ", c.Info
		switch {
		case c.Err != nil:
			mark, detail = "FAIL", c.Err.Error()
		case c.Skip:
			mark = "skip"
		case c.Warn:
			mark = "warn"
		}
		fmt.Fprintf(w, "[%s] %-18s %s\n", mark, c.Name, detail)
		if (c.Err != nil || c.Warn) && c.Fix != "" {
			fmt.Fprintf(w, "       fix: %s\n", c.Fix)
		}
		for _, d := range c.Details {
			fmt.Fprintf(w, "       %s\n", d)
		}
	}
	if loadErr != nil {
		add(Check{Name: "config", Err: loadErr, Fix: "correct the config file (see /etc/casefleet/agent.yaml) or the CASEFLEET_* variables"})
		return false
	}
	if err := cfg.Validate(); err != nil {
		add(Check{Name: "config", Err: err, Fix: "set each key named above in the config file or as CASEFLEET_<KEY> (dots become underscores)"})
	} else {
		add(Check{Name: "config", Info: "machine " + cfg.Machine.Code})
	}
	add(checkOperatorPIN(cfg))
	dataDir := checkDataDir(cfg.DataDir)
	add(dataDir)
	if dataDir.Err == nil {
		add(checkStore(ctx, cfg))
	}
	link, err := chitu.Dial(ctx, daemon.ChituConfig(cfg, slog.New(slog.DiscardHandler)))
	if err != nil {
		add(Check{Name: "open API", Err: err, Fix: "fix the chitu.* settings"})
		add(Check{Name: "MQTT", Err: err, Fix: "fix the chitu.* settings"})
	} else {
		defer link.Close()
		api := checkOpenAPI(ctx, link, cfg)
		add(api)
		if api.Err != nil {
			// The MQTT topic comes from the machine's id, which only the
			// open API gives.
			add(Check{Name: "MQTT", Skip: true, Info: "needs the open API to work first"})
		} else {
			add(checkMQTT(ctx, link, cfg))
		}
	}
	add(checkRelay(ctx, cfg))
	add(checkUpdates(cfg))
	warnings := 0
	for _, c := range checks {
		if c.Err != nil {
			fmt.Fprintln(w, "\nSome checks failed.")
			return false
		}
		if c.Warn {
			warnings++
		}
	}
	if warnings > 0 {
		// Still a pass (the kiosk serves customers), but not a quiet one.
		fmt.Fprintf(w, "\nAll checks passed, but %d warning(s) above need attention.\n", warnings)
		return true
	}
	fmt.Fprintln(w, "\nAll checks passed.")
	return true
}

// checkOperatorPIN warns when lan.operator_pin is unset: the agent then
// runs and prints, but its operator dashboard and `casefleet-agent status`
// answer 403 to everyone, which a technician finds out only later, on the
// shop floor.
func checkOperatorPIN(cfg config.Config) Check {
	c := Check{Name: "operator PIN"}
	if cfg.LAN.OperatorPIN != "" {
		c.Info = "set: the operator dashboard is at " + dashboardURL(cfg.LAN.Listen)
		return c
	}
	c.Warn = true
	c.Info = "lan.operator_pin is not set: the operator dashboard (" + dashboardURL(cfg.LAN.Listen) + ") and `casefleet-agent status` answer 403 Forbidden"
	exe, file, restart := "sudo casefleet-agent", config.DefaultFile(), "sudo systemctl restart casefleet-agent"
	if runtime.GOOS == "windows" {
		exe, restart = `"C:\Program Files\casefleet\casefleet-agent.exe"`, "Restart-Service casefleet-agent"
	}
	c.Fix = "run `" + exe + " enroll --set-pin` (it asks for a PIN of at least 6 characters without showing it, writes it into " + file +
		" and restarts the agent), or put `operator_pin: \"...\"` under `lan:` in the config yourself and run `" + restart + "`"
	return c
}

// dashboardURL is where the operator dashboard answers, as seen from this
// PC; operators use the kiosk's LAN address instead of 127.0.0.1.
func dashboardURL(listen string) string {
	base, err := AgentURL(listen)
	if err != nil {
		return "lan.listen " + listen
	}
	return base + "/operator/"
}

func checkDataDir(dir string) Check {
	c := Check{Name: "data dir", Fix: "create " + dir + " and make it writable by the agent's user (the package does this), or set data_dir"}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		c.Err = err
		return c
	}
	probe := filepath.Join(dir, ".doctor-probe")
	if err := os.WriteFile(probe, []byte("ok"), 0o600); err != nil {
		c.Err = fmt.Errorf("%s is not writable: %w", dir, err)
		return c
	}
	os.Remove(probe)
	c.Info = dir
	return c
}

func checkOpenAPI(ctx context.Context, link chitu.Link, cfg config.Config) Check {
	c := Check{Name: "open API", Fix: "check chitu.base_url, chitu.app_id and chitu.app_secret, the machine code, and that this PC reaches " + cfg.Chitu.BaseURL}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	m, err := link.Machine(cctx)
	if err != nil {
		c.Err = err
		if chitu.IsRejected(err) {
			c.Fix = "the platform refused: check chitu.app_id, chitu.app_secret and that " + cfg.Machine.Code + " belongs to this app"
		}
		return c
	}
	state := "online"
	if !m.Online {
		state = "OFFLINE (switch the printer on and check its network)"
	}
	c.Info = fmt.Sprintf("%s %q is %s; ink c/m/y/k %s/%s/%s/%s", m.Code, m.Name, state, m.Ink.Cyan, m.Ink.Magenta, m.Ink.Yellow, m.Ink.Black)
	return c
}

func checkMQTT(ctx context.Context, link chitu.Link, cfg config.Config) Check {
	c := Check{Name: "MQTT", Fix: "check chitu.mqtt_url, chitu.mqtt_username and chitu.mqtt_password, and that this PC reaches the broker"}
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !link.MQTTConnected() {
		select {
		case <-ctx.Done():
			c.Err = ctx.Err()
			return c
		case <-deadline.C:
			c.Err = fmt.Errorf("no connection to %s within 10s", cfg.Chitu.MQTTURL)
			return c
		case <-tick.C:
		}
	}
	c.Info = "connected to " + cfg.Chitu.MQTTURL
	return c
}

func checkRelay(ctx context.Context, cfg config.Config) Check {
	c := Check{Name: "relay"}
	if cfg.Relay.URL == "" {
		c.Skip, c.Info = true, "relay.url is not set: customers cannot reach this kiosk from outside the shop (enroll it with casefleet-agent enroll)"
		return c
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	public, err := tunnel.Check(cctx, cfg.Relay.URL, cfg.Machine.Code, cfg.Relay.Token, "doctor")
	var refused *tunnel.RefusedError
	switch {
	case errors.As(err, &refused):
		c.Err = refused
		c.Fix = "issue a new token for " + cfg.Machine.Code + " (casefleet-relay issue) and run casefleet-agent enroll with it"
	case err != nil:
		c.Err = err
		c.Fix = "check relay.url and that this PC reaches " + cfg.Relay.URL + " (HTTPS out must be allowed)"
	default:
		c.Info = "accepts this kiosk; customers reach it at " + public
	}
	return c
}

// checkUpdates says whether the agent will update itself (docs/updates.md),
// as the running agent decides it: a packaged install without the fleet's
// release key runs, but never takes an update, and nothing else says so
// until the fleet's owner wonders why the kiosk stays behind.
func checkUpdates(cfg config.Config) Check {
	c := Check{Name: "updates"}
	formatFile := cmp.Or(cfg.Update.FormatFile, update.DefaultFormatFile())
	platform, _, err := update.Readiness(cfg.Update.Enabled, formatFile, cfg.Update.ReleasePub)
	switch {
	case err == nil:
		c.Info = "on, for " + platform + ", release key " + cfg.Update.ReleasePub
		if cfg.Update.Window != "" {
			c.Info += ", installed between " + cfg.Update.Window
		}
	case errors.Is(err, update.ErrDisabled):
		c.Skip, c.Info = true, "off: update.enabled is false"
	case errors.Is(err, update.ErrNotPackaged):
		c.Skip, c.Info = true, "off: "+err.Error()+"; a new version comes with a new package"
	case errors.Is(err, update.ErrNoReleaseKey):
		c.Warn, c.Info = true, "off: "+err.Error()
		c.Fix = fmt.Sprintf("install the fleet's release key (release.pub) where update.release_pub points (%q), or point it at the key (docs/updates.md)", cfg.Update.ReleasePub)
	default:
		c.Warn, c.Info = true, "off: "+err.Error()
		c.Fix = "reinstall the agent's package, which writes " + formatFile
	}
	return c
}
