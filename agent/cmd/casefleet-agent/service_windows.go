//go:build windows

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"

	"casefleet/agent/config"
)

// serviceName is the name the MSI installs the service under
// (packaging/windows/casefleet-agent.wxs).
const serviceName = "casefleet-agent"

const (
	// maxLogBytes is the size past which the service's log file is set
	// aside (one old generation is kept) when the service starts.
	maxLogBytes = 10 << 20
	// stopWaitHint is how long the service manager is told a stop may take.
	stopWaitHint = 30 * time.Second
)

// adminsOnly is a protected DACL giving SYSTEM and Administrators full
// control, inherited by everything below. ProgramData lets every local user
// read by default, and the config holds the platform secret and the relay
// token.
const adminsOnly = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

// runMain runs the command line: as the Windows service when the service
// manager started the process, else as a console program. As a service the
// command line is the one the MSI registered: run --config FILE.
func runMain(args []string, run func(context.Context, []string) int) int {
	isService, err := svc.IsWindowsService()
	if err != nil {
		fmt.Fprintln(os.Stderr, "casefleet-agent: cannot tell whether the service manager started us:", err)
		return 1
	}
	if !isService {
		return run(context.Background(), args)
	}
	home, err := windows.KnownFolderPath(windows.FOLDERID_ProgramData, 0)
	if err != nil {
		return 1 // nowhere to say why: a service has no console
	}
	home = filepath.Join(home, "casefleet")
	if err := logToFile(filepath.Join(home, "logs")); err != nil {
		return 1
	}
	s := &agentService{args: args, run: run, home: home, log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	if err := svc.Run(serviceName, s); err != nil {
		s.log.Error("run as a service", "err", err)
		return 1
	}
	return s.code
}

// agentService runs the agent under the Windows service manager.
type agentService struct {
	args []string
	run  func(context.Context, []string) int
	home string // %ProgramData%\casefleet: config, data and logs
	log  *slog.Logger
	code int // the agent's exit code, for the process
}

// Execute is called by the service manager: it runs the agent until the
// agent stops or the manager asks it to.
func (s *agentService) Execute(_ []string, requests <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	if err := setRecoveryActions(); err != nil {
		s.log.Warn("the service will not be restarted after a failure", "err", err)
	}
	if err := restrictToAdmins(s.home); err != nil {
		s.log.Warn("could not restrict access to "+s.home+" to administrators", "err", err)
	}
	// The MSI installs no config (so that upgrades and uninstalls never
	// touch it): until enroll or the technician writes it, stop quietly
	// instead of failing over and over.
	if path := configFile(s.args); path != "" {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("not configured yet, stopping: run casefleet-agent enroll, or copy agent.example.yaml there and edit it", "config", path)
			return false, 0
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- s.run(ctx, s.args) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case s.code = <-done:
			return s.exitCode()
		case req := <-requests:
			switch req.Cmd {
			case svc.Interrogate:
				status <- req.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: uint32(stopWaitHint / time.Millisecond)}
				cancel()
				s.code = <-done
				return s.exitCode()
			}
		}
	}
}

// exitCode reports the agent's exit code to the service manager as a
// service-specific error, so that a failure triggers the recovery actions.
func (s *agentService) exitCode() (bool, uint32) {
	if s.code == 0 {
		return false, 0
	}
	return true, uint32(s.code)
}

// configFile is the value of --config in the service's command line.
func configFile(args []string) string {
	if len(args) == 0 {
		return ""
	}
	fs := pflag.NewFlagSet(args[0], pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.ParseErrorsAllowlist.UnknownFlags = true
	config.Flags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return ""
	}
	path, _ := fs.GetString("config")
	return path
}

// logToFile points stdout and stderr, and the process's standard handles
// (where the runtime writes a panic), at dir\agent.log: a service has no
// console, and the agent logs to stderr.
func logToFile(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	path := filepath.Join(dir, "agent.log")
	if info, err := os.Stat(path); err == nil && info.Size() > maxLogBytes {
		_ = os.Rename(path, path+".1") // best effort: keeping one old file is a courtesy
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	for _, std := range []uint32{windows.STD_OUTPUT_HANDLE, windows.STD_ERROR_HANDLE} {
		if err := windows.SetStdHandle(std, windows.Handle(f.Fd())); err != nil {
			return fmt.Errorf("redirect standard handle: %w", err)
		}
	}
	os.Stdout, os.Stderr = f, f
	return nil
}

// setRecoveryActions makes the service manager restart a failed agent, as
// Restart=on-failure does under systemd: after 10 s, after a minute, then
// every 5 minutes; the count starts over after a day without failure. The
// MSI cannot say this (wixl has no table for it), so the service sets it on
// itself each time it starts.
func setRecoveryActions() error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(serviceName)
	if err != nil {
		return fmt.Errorf("open service %s: %w", serviceName, err)
	}
	defer s.Close()
	actions := []mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 10 * time.Second},
		{Type: mgr.ServiceRestart, Delay: time.Minute},
		{Type: mgr.ServiceRestart, Delay: 5 * time.Minute},
	}
	if err := s.SetRecoveryActions(actions, uint32((24 * time.Hour).Seconds())); err != nil {
		return fmt.Errorf("set recovery actions: %w", err)
	}
	// An exit with an error code (bad config, port taken) is a failure too,
	// not only a crash.
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("set recovery on non-crash failures: %w", err)
	}
	return nil
}

// restrictToAdmins replaces dir's access list with adminsOnly.
func restrictToAdmins(dir string) error {
	sd, err := windows.SecurityDescriptorFromString(adminsOnly)
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	return windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
}
