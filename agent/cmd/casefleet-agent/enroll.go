package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"time"

	"github.com/spf13/pflag"

	"casefleet/agent/config"
	"casefleet/shared/enroll"
	"casefleet/shared/tunnel"
)

// enrollKiosk checks a token with the relay, writes it (and the machine it
// names) into the config file, and starts the service.
func enrollKiosk(ctx context.Context, args []string, out io.Writer) int {
	fs := pflag.NewFlagSet("enroll", pflag.ContinueOnError)
	relay := fs.String("relay", "", "the relay's base URL, e.g. https://relay.example.com")
	token := fs.String("token", "", "this kiosk's enrollment token (from casefleet-relay issue)")
	path := fs.String("config", config.DefaultFile(), "config file to write")
	noStart := fs.Bool("no-start", false, "write the config but do not (re)start the service")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "casefleet-agent enroll: "+format+"\n", a...)
		return 1
	}
	if *relay == "" || *token == "" {
		return fail("--relay and --token are both required")
	}
	claims, err := enroll.Inspect(*token)
	if err != nil {
		return fail("that token cannot be read: %v", err)
	}
	fmt.Fprintf(out, "token for machine %s", claims.Machine)
	if claims.Location != "" {
		fmt.Fprintf(out, " at %s", claims.Location)
	}
	if claims.ExpiresAt != 0 {
		fmt.Fprintf(out, ", valid until %s", time.Unix(claims.ExpiresAt, 0).UTC().Format("2006-01-02 15:04 MST"))
	}
	fmt.Fprintln(out)

	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	public, err := tunnel.Check(cctx, *relay, claims.Machine, *token, version)
	if err != nil {
		var refused *tunnel.RefusedError
		if errors.As(err, &refused) {
			return fail("the relay refused the token: %s", refused.Message)
		}
		return fail("cannot reach the relay at %s: %v", *relay, err)
	}
	fmt.Fprintf(out, "the relay accepts it; customers will reach this kiosk at %s\n", orUnknown(public))

	values := map[string]string{"relay.url": *relay, "relay.token": *token, "machine.code": claims.Machine}
	if claims.Location != "" {
		values["machine.location"] = claims.Location
	}
	if err := config.SetKeys(*path, values); err != nil {
		return fail("write the config: %v", err)
	}
	fmt.Fprintf(out, "wrote %s\n", *path)
	if *noStart {
		fmt.Fprintln(out, "not starting the service (--no-start); run `casefleet-agent doctor` to check the rest of the setup")
		return 0
	}
	if err := restartService(ctx, out); err != nil {
		return fail("%v", err)
	}
	return 0
}

// restartService (re)starts the installed agent service so it picks up
// the new config.
func restartService(ctx context.Context, out io.Writer) error {
	var cmd *exec.Cmd
	switch {
	case runtime.GOOS == "windows":
		cmd = exec.CommandContext(ctx, "powershell", "-NoProfile", "-Command", "Restart-Service casefleet-agent")
	case isDir("/run/systemd/system"):
		cmd = exec.CommandContext(ctx, "systemctl", "enable", "--now", "casefleet-agent")
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("systemctl enable casefleet-agent: %w", err)
		}
		cmd = exec.CommandContext(ctx, "systemctl", "restart", "casefleet-agent")
	default:
		fmt.Fprintln(out, "no service manager found: start the agent with `casefleet-agent run --config FILE`")
		return nil
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("start the service: %v: %s", err, b)
	}
	fmt.Fprintln(out, "service started; check it with `casefleet-agent doctor`")
	return nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func orUnknown(s string) string {
	if s == "" {
		return "(the relay announced no public URL)"
	}
	return s
}
