package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"casefleet/agent/config"
	"casefleet/shared/enroll"
	"casefleet/shared/tunnel"
)

// enrollKiosk checks a token with the relay, writes it (and the machine it
// names) into the config file, and starts the service. It also sets the
// operator dashboard's PIN, asked for on a terminal: without one, the
// dashboard and `status` answer 403, which a technician following the
// guide would only find out on the shop floor.
func enrollKiosk(ctx context.Context, args []string, out io.Writer) int {
	fs := pflag.NewFlagSet("enroll", pflag.ContinueOnError)
	relay := fs.String("relay", "", "the relay's base URL, e.g. https://relay.example.com")
	token := fs.String("token", "", "this kiosk's enrollment token (from casefleet-relay issue)")
	path := fs.String("config", config.DefaultFile(), "config file to write")
	noStart := fs.Bool("no-start", false, "write the config but do not (re)start the service")
	pinFlag := fs.String("operator-pin", "", "the operator dashboard's PIN, at least 6 characters, for scripts (on a terminal enroll asks for it instead, without showing it or leaving it in the shell's history)")
	setPIN := fs.Bool("set-pin", false, "only set the operator PIN (asked for, or --operator-pin), without --relay and --token")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "casefleet-agent enroll: "+format+"\n", a...)
		return 1
	}
	pinOnly := *setPIN || (*relay == "" && *token == "" && *pinFlag != "")
	if !pinOnly && (*relay == "" || *token == "") {
		return fail("--relay and --token are both required (or --set-pin to set only the operator PIN)")
	}
	values := map[string]string{}
	if !pinOnly {
		if code := checkToken(ctx, *relay, *token, values, out); code != 0 {
			return code
		}
	}
	pin, err := operatorPIN(*pinFlag, *path, pinOnly, os.Stdin, out)
	if err != nil {
		return fail("%v", err)
	}
	if pin != "" {
		values["lan.operator_pin"] = pin
	}
	if err := config.SetKeys(*path, values); err != nil {
		return fail("write the config: %v", err)
	}
	fmt.Fprintf(out, "wrote %s\n", *path)
	if pin != "" {
		fmt.Fprintf(out, "operator PIN set (not shown); the dashboard is at http://THIS-PC:%s/operator/\n", listenPort(*path))
	}
	if *noStart {
		fmt.Fprintln(out, "not starting the service (--no-start); run `casefleet-agent doctor` to check the rest of the setup")
		return 0
	}
	if err := restartService(ctx, *path, out); err != nil {
		return fail("%v", err)
	}
	return 0
}

// checkToken reads the token, asks the relay whether it accepts it, and
// puts what it names into values.
func checkToken(ctx context.Context, relay, token string, values map[string]string, out io.Writer) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "casefleet-agent enroll: "+format+"\n", a...)
		return 1
	}
	claims, err := enroll.Inspect(token)
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
	public, err := tunnel.Check(cctx, relay, claims.Machine, token, version)
	if err != nil {
		var refused *tunnel.RefusedError
		if errors.As(err, &refused) {
			return fail("the relay refused the token: %s", refused.Message)
		}
		return fail("cannot reach the relay at %s: %v", relay, err)
	}
	fmt.Fprintf(out, "the relay accepts it; customers will reach this kiosk at %s\n", orUnknown(public))
	values["relay.url"], values["relay.token"], values["machine.code"] = relay, token, claims.Machine
	if claims.Location != "" {
		values["machine.location"] = claims.Location
	}
	return 0
}

// operatorPIN is the PIN to write: the flag's, or one asked for on the
// terminal in (without echo, twice) when the file has none yet or only
// the PIN is being set. "" means leave the file's as it is.
func operatorPIN(flag, path string, pinOnly bool, in *os.File, out io.Writer) (string, error) {
	if flag != "" {
		if len(flag) < 6 {
			return "", errors.New("--operator-pin must be at least 6 characters")
		}
		return flag, nil
	}
	if !pinOnly && fileHasPIN(path) {
		return "", nil
	}
	if !isTerminal(in) {
		if pinOnly {
			return "", errors.New("no PIN to set: run this on the kiosk's terminal (it asks for one), or give --operator-pin")
		}
		fmt.Fprintln(out, "note: lan.operator_pin is not set, so the operator dashboard and `casefleet-agent status` stay locked (403); set it with `casefleet-agent enroll --set-pin` on a terminal, or --operator-pin")
		return "", nil
	}
	for range 3 {
		pin, _, err := readHidden(in, out, "Operator dashboard PIN, at least 6 characters (not shown; Enter to skip): ")
		if err != nil {
			return "", fmt.Errorf("read the PIN: %w", err)
		}
		switch {
		case pin == "":
			fmt.Fprintln(out, "no PIN set: the operator dashboard stays locked until you set one (casefleet-agent enroll --set-pin)")
			return "", nil
		case len(pin) < 6:
			fmt.Fprintln(out, "too short: at least 6 characters")
			continue
		}
		again, _, err := readHidden(in, out, "The same PIN again: ")
		if err != nil {
			return "", fmt.Errorf("read the PIN: %w", err)
		}
		if again != pin {
			fmt.Fprintln(out, "the two differ; once more")
			continue
		}
		return pin, nil
	}
	return "", errors.New("no PIN set after 3 tries")
}

// readLine reads up to a newline, one byte at a time so nothing after it
// is swallowed.
func readLine(r io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := r.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			line = append(line, b[0])
		}
		if err == io.EOF && len(line) > 0 {
			break
		}
		if err != nil {
			return "", err
		}
	}
	return strings.TrimSuffix(string(line), "\r"), nil
}

// fileHasPIN reports whether the config file at path sets
// lan.operator_pin.
func fileHasPIN(path string) bool {
	var f struct {
		LAN struct {
			PIN string `yaml:"operator_pin"`
		} `yaml:"lan"`
	}
	raw, err := os.ReadFile(path)
	return err == nil && yaml.Unmarshal(raw, &f) == nil && f.LAN.PIN != ""
}

// listenPort is the port of lan.listen in the file (7080 by default).
func listenPort(path string) string {
	var f struct {
		LAN struct {
			Listen string `yaml:"listen"`
		} `yaml:"lan"`
	}
	raw, _ := os.ReadFile(path)
	if yaml.Unmarshal(raw, &f) == nil {
		if _, port, err := net.SplitHostPort(f.LAN.Listen); err == nil {
			return port
		}
	}
	return "7080"
}

// restartService (re)starts the installed agent service so it picks up
// the new config.
func restartService(ctx context.Context, path string, out io.Writer) error {
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
		fmt.Fprintln(out, manualStart(path))
		return nil
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("start the service: %v: %s", err, b)
	}
	fmt.Fprintln(out, "service started; check it with `casefleet-agent doctor`")
	return nil
}

// manualStart says how to start the agent without a service manager: as
// the service's user, never as root (enroll itself runs as root; an agent
// started the same way would make its files root's, which the service
// then cannot open, and would serve the LAN with root's rights).
func manualStart(path string) string {
	run := "casefleet-agent run --config " + path
	if _, err := user.Lookup("casefleet"); err == nil {
		return "no service manager found: start the agent as the casefleet user, not as root:\n  sudo -u casefleet " + run
	}
	return "no service manager found: start the agent as an ordinary user that can read " + path + " and write the data_dir, not as root:\n  " + run
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
