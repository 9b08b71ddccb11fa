package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"casefleet/shared/logging"
	"casefleet/shared/release"
)

// Defaults of the command's flags: where the packages put things.
const (
	DefaultDir        = "/var/lib/casefleet/update"
	DefaultWork       = "/var/lib/casefleet-update"
	DefaultReleasePub = "/etc/casefleet/release.pub"
	FormatFile        = "/usr/lib/casefleet-agent/package-format"
)

const usage = `casefleet-agent update-install: install the update the agent asked for (run as root
by casefleet-agent-update.service when the agent writes update/request.json; on
Windows started by the agent's service from a copy of its executable, with
--format msi; docs/updates.md). Verifies, installs with dpkg, rpm or msiexec,
waits for the new agent's health, rolls back to the kept package otherwise,
writes update/result.json. Finishes an interrupted install first.

Usage:
  casefleet-agent update-install [flags]

Flags:
`

// DefaultAgentExe is where the MSI installs the agent on Windows:
// %ProgramFiles%\casefleet\casefleet-agent.exe; elsewhere none.
func DefaultAgentExe() string {
	if runtime.GOOS != "windows" {
		return ""
	}
	dir := os.Getenv("ProgramFiles")
	if dir == "" {
		dir = `C:\Program Files`
	}
	return filepath.Join(dir, "casefleet", "casefleet-agent.exe")
}

// Command is `casefleet-agent update-install ARGS`; it returns the exit
// status.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("update-install", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", DefaultDir, "the agent's update directory (request.json, status.json, result.json, health.json, installed/)")
	work := fs.String("work", DefaultWork, "the installer's own root-only directory (verified copies, journal)")
	pub := fs.String("release-pub", DefaultReleasePub, "the release public key that verifies manifests")
	root := fs.String("root", "", "install into this throw-away root (dpkg --root, rpm --root): for tests")
	format := fs.String("format", "", "deb, rpm or msi (default: what "+FormatFile+" says)")
	dpkg := fs.String("dpkg", "dpkg", "the dpkg command")
	rpm := fs.String("rpm", "rpm", "the rpm command")
	msiexec := fs.String("msiexec", "", `msi: msiexec.exe, an absolute path (default %SystemRoot%\System32\msiexec.exe)`)
	agentExe := fs.String("agent-exe", DefaultAgentExe(), "msi: the installed casefleet-agent.exe, asked its version")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	for _, a := range args {
		if a == "-h" || a == "--help" {
			fs.SetOutput(stdout)
			break
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, err)
		return 2
	}
	log, err := logging.New(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "casefleet-agent update-install:", err)
		return 2
	}
	if *format == "" {
		b, err := os.ReadFile(filepath.Join(*root, FormatFile))
		if err != nil {
			log.Error("update: which package format installed this agent is unknown: no updates", "err", err)
			return 1
		}
		*format = strings.TrimSpace(string(b))
	}
	key, err := release.LoadPublicKey(*pub)
	if err != nil {
		// No key of its own: it cannot verify, so it installs nothing; a
		// pending request still gets its answer (result.json, failed).
		log.Info("update: no release key: a request will be refused", "err", err)
	}
	var tool Tool
	goos := runtime.GOOS
	switch *format {
	case "deb":
		tool = Dpkg{Dpkg: *dpkg, Root: *root}
	case "rpm":
		tool = RPM{RPM: *rpm, Root: *root}
	case "msi":
		tool = MSI{Msiexec: *msiexec, Agent: *agentExe, LogDir: *dir, Key: key}
		goos = "windows" // an MSI is Windows' (tests run it elsewhere with a stand-in msiexec)
	default:
		log.Error("update: unknown package format", "format", *format)
		return 2
	}
	in := &Installer{
		Dir: *dir, Work: *work, ReleaseKey: key, keyErr: err, Tool: tool, Logger: log,
		Platform: fmt.Sprintf("%s-%s-%s", goos, runtime.GOARCH, *format),
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := in.Run(ctx); err != nil {
		log.Error("update: not finished", "err", err)
		return 1
	}
	return 0
}
