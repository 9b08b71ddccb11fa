// Command casefleet-relay is the cloud relay: kiosks' agents tunnel to it,
// and customers' phones reach a kiosk through it by machine code.
//
//	casefleet-relay keygen --out DIR
//	casefleet-relay issue --key FILE --machine CODE [--location L] [--ttl D]
//	casefleet-relay issue-admin --key FILE --name NAME [--ttl D]
//	casefleet-relay release-keygen --out DIR
//	casefleet-relay rollout set --file FILE --target VERSION [--percent P] [--locations L] [--canaries C] ...
//	casefleet-relay rollout status --relay URL [--token T]
//	casefleet-relay run --listen ADDR --fleet-pub FILE [--public-url URL] [--redis-url URL] ...
//	casefleet-relay qr --machine CODE [--location L] [--name N] [--public-url URL] [--out FILE]
//	casefleet-relay qr --sheet FILE.csv [--public-url URL] --out FILE.pdf
//	casefleet-relay version
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/pflag"

	"casefleet/relay/config"
	"casefleet/relay/fleet"
	"casefleet/relay/server"
	sharedconfig "casefleet/shared/config"
	"casefleet/shared/logging"
	"casefleet/shared/release"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `casefleet-relay: the casefleet cloud relay

Usage:
  casefleet-relay keygen --out DIR        make the fleet key pair (DIR/fleet.key, DIR/fleet.pub)
  casefleet-relay issue --key FILE --machine CODE [--location L] [--ttl D]
                                          print an enrollment token for one kiosk
  casefleet-relay issue-admin --key FILE --name NAME [--ttl D]
                                          print a fleet owner's login token for /fleet/
  casefleet-relay release-keygen --out DIR
                                          make the release key pair (DIR/release.key signs agent
                                          releases: make package RELEASE_KEY=...; DIR/release.pub
                                          checks them)
  casefleet-relay rollout set --file FILE --target VERSION [--percent P] [--locations L,...]
                  [--canaries CODE,...] [--halt-after N] [--allow-downgrade]
                  [--releases-dir DIR --release-pub FILE]
                                          write the rollout file the relays reload (docs/updates.md)
  casefleet-relay rollout status --relay URL [--token T]
                                          the rollout's target, machines by state, halted or not
  casefleet-relay run --fleet-pub FILE [flags]
                                          run the relay (casefleet-relay run --help lists every flag)
  casefleet-relay qr --machine CODE [--location L] [--name N] [--public-url URL] [--out FILE]
                                          a kiosk's QR sticker: PNG, SVG or PDF by the extension
                                          of FILE (without --out, the SVG on standard output)
  casefleet-relay qr --sheet FILE.csv [--public-url URL] --out FILE.pdf
                                          A4 sheets of stickers for many kiosks (CSV columns
                                          code,location,name); .svg and .png write a file a page
  casefleet-relay version                 print the version

Every setting of run also reads from the environment: key public_url from
CASEFLEET_RELAY_PUBLIC_URL, and from a YAML file given with --config.
See docs/relay.md.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	fs := pflag.NewFlagSet("casefleet-relay "+cmd, pflag.ContinueOnError)
	if sharedconfig.HelpWanted(args) {
		// Help asked for is output (standard output, status 0); after a
		// mistake the usage goes to standard error.
		fs.SetOutput(os.Stdout)
	}
	var exec func() error
	switch cmd {
	case "version", "--version":
		fmt.Println("casefleet-relay", version)
		return 0
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	case "keygen":
		out := fs.String("out", "", "directory to write fleet.key and fleet.pub into (created if needed)")
		exec = func() error { return keygen(*out) }
	case "issue":
		key := fs.String("key", "", "the fleet private key file (fleet.key)")
		code := fs.String("machine", "", "the kiosk's machine code, e.g. CT0700026")
		location := fs.String("location", "", "where the kiosk stands, e.g. mall-3f (groups machines for alternatives)")
		ttl := fs.Duration("ttl", 0, "how long the token is valid, e.g. 8760h (default: no expiry)")
		exec = func() error {
			tok, id, err := fleet.Issue(fleet.IssueRequest{KeyFile: *key, Machine: *code, Location: *location, TTL: *ttl})
			if err == nil {
				fmt.Println(tok)
				fmt.Fprintf(os.Stderr, "token id (for revocation: jti:%s)\n", id)
			}
			return err
		}
	case "issue-admin":
		key := fs.String("key", "", "the fleet private key file (fleet.key)")
		name := fs.String("name", "", "who the token is for, e.g. alice (shown in the relay's logs)")
		ttl := fs.Duration("ttl", 0, "how long the token is valid, e.g. 720h (default: no expiry)")
		exec = func() error {
			tok, id, err := fleet.IssueAdmin(fleet.AdminRequest{KeyFile: *key, Name: *name, TTL: *ttl})
			if err == nil {
				fmt.Println(tok)
				fmt.Fprintf(os.Stderr, "token id %s (to revoke it and end its sessions: jti:%s in the revocations file)\n", id, id)
			}
			return err
		}
	case "release-keygen":
		out := fs.String("out", "", "directory to write release.key and release.pub into (created if needed)")
		exec = func() error { return releaseKeygen(*out) }
	case "rollout":
		if len(args) == 0 || (args[0] != "set" && args[0] != "status") {
			fmt.Fprintf(os.Stderr, "rollout: want set or status\n\n%s", usage)
			return 2
		}
		sub := args[0]
		args = args[1:]
		fs = pflag.NewFlagSet("casefleet-relay rollout "+sub, pflag.ContinueOnError)
		if sharedconfig.HelpWanted(args) {
			fs.SetOutput(os.Stdout)
		}
		if sub == "set" {
			o := rolloutSetFlags(fs)
			exec = func() error { return o.run(os.Stdout) }
		} else {
			o := rolloutStatusFlags(fs)
			exec = func() error { return o.run(os.Stdout) }
		}
	case "run":
		config.Flags(fs)
		exec = func() error { return serve(fs) }
	case "qr":
		o := qrFlags(fs)
		exec = func() error { return o.run(os.Stdout, os.Stderr) }
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
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unexpected arguments: %v\n", fs.Args())
		return 2
	}
	if err := exec(); err != nil {
		fmt.Fprintln(os.Stderr, "casefleet-relay:", err)
		return 1
	}
	return 0
}

func keygen(dir string) error {
	if dir == "" {
		return errors.New("keygen: --out DIR is required")
	}
	priv, pub, err := fleet.Keygen(dir)
	if err != nil {
		return err
	}
	fmt.Printf("fleet private key: %s (keep it secret; it issues tokens)\nfleet public key:  %s (give it to every relay: --fleet-pub)\n", priv, pub)
	return nil
}

func releaseKeygen(dir string) error {
	if dir == "" {
		return errors.New("release-keygen: --out DIR is required")
	}
	pub, priv, err := release.GenerateKey()
	if err != nil {
		return err
	}
	if err := release.WriteKeyPair(dir, pub, priv); err != nil {
		return err
	}
	fmt.Printf("release private key: %s (keep it offline; it signs agent releases: make package RELEASE_KEY=...)\nrelease public key:  %s (agents check releases with it)\n",
		filepath.Join(dir, release.PrivateKeyFile), filepath.Join(dir, release.PublicKeyFile))
	return nil
}

func serve(fs *pflag.FlagSet) error {
	cfg, err := config.Load(fs)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("settings:\n%w", err)
	}
	log, err := logging.New(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	log = log.With("instance", cfg.InstanceID)
	srv, err := server.New(cfg, log, server.WithVersion(version))
	if err != nil {
		return err
	}
	ls, err := listen(cfg, log) // listen.go: HTTPS and plain HTTP when TLS is on
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			ls.reloadTLS()
			srv.ReloadRollout()
			if cfg.Revocations == "" {
				log.Info("SIGHUP: no revocation file to reload")
				continue
			}
			if err := srv.ReloadRevocations(); err != nil {
				log.Error("SIGHUP: revocation file does not load; keeping the previous list", "err", err)
			}
		}
	}()
	return ls.serve(ctx, srv)
}
