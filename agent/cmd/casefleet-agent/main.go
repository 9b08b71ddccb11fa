// Command casefleet-agent is the daemon beside each printer.
//
//	casefleet-agent run [--config FILE]   run the agent
//	casefleet-agent doctor [--config FILE] check the setup and say what to fix
//	casefleet-agent version               print the version
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"casefleet/agent/config"
	"casefleet/agent/daemon"
	"casefleet/agent/doctor"
	"casefleet/agent/installer"
	sharedconfig "casefleet/shared/config"
	"casefleet/shared/logging"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `casefleet-agent: the casefleet kiosk agent

Usage:
  casefleet-agent run [--config FILE] [flags]   run the agent
  casefleet-agent doctor [--config FILE]        check the setup; says what to fix
  casefleet-agent status [--config FILE]        one screen: printer, queue, relay, last errors
  casefleet-agent enroll --relay URL --token T [--config FILE] [--no-start] [--operator-pin PIN]
                                                check the token with the relay, write it
                                                (and the operator PIN: asked on a terminal)
                                                into the config and start the service
  casefleet-agent enroll --set-pin [--config FILE]
                                                set only the operator PIN
  casefleet-agent discover [--json] [--timeout D] [--interfaces IF,...]
                                                list the agents on the LAN
  casefleet-agent update-install [flags]        (root, run by casefleet-agent-update.service)
                                                install the update the agent asked for,
                                                roll back if it is not healthy
  casefleet-agent version                       print the version

Settings come from the YAML file, then CASEFLEET_* environment variables
(key machine.code reads CASEFLEET_MACHINE_CODE), then flags.
`

func main() {
	os.Exit(runMain(os.Args[1:], run))
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	fs := pflag.NewFlagSet(cmd, pflag.ContinueOnError)
	config.Flags(fs)
	help := sharedconfig.HelpWanted(args)
	if help {
		// Help asked for is the command's output: standard output, status
		// 0. The flag sets print their usage to standard error (right after
		// a mistake), so send it here for this run.
		stderr := os.Stderr
		os.Stderr = os.Stdout
		defer func() { os.Stderr = stderr }()
	}
	switch cmd {
	case "version", "--version":
		fmt.Println("casefleet-agent", version)
		return 0
	case "discover", "enroll":
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		code := 0
		if cmd == "enroll" {
			code = enrollKiosk(ctx, args, os.Stdout)
		} else {
			code = discover(ctx, args, os.Stdout)
		}
		if help && code == 2 { // the usage was printed; nothing was wrong
			return 0
		}
		return code
	case "update-install":
		return installer.Command(ctx, args, os.Stdout, os.Stderr)
	case "run", "doctor", "status":
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(fs)
	if cmd == "status" {
		return status(ctx, cfg, err, os.Stdout)
	}
	if cmd == "doctor" {
		if !doctor.Run(ctx, cfg, err, os.Stdout) {
			return 1
		}
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "casefleet-agent:", err)
		return 1
	}
	log, err := logging.New(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		fmt.Fprintln(os.Stderr, "casefleet-agent:", err)
		return 1
	}
	opts, err := customerParts(cfg, log)
	if err != nil {
		log.Error("agent cannot start", "err", err)
		return 1
	}
	opts.Version, opts.Logger = version, log
	if err := daemon.Run(ctx, cfg, opts); err != nil {
		log.Error("agent stopped", "err", err)
		return 1
	}
	log.Info("agent stopped")
	return 0
}
