//go:build windows

package update

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// platformInstall on Windows runs msiexec on the verified MSI from the
// service (see MSICommand). The MSI stops and restarts the service, so
// msiexec is started detached, in its own process group, and not waited
// for: it must outlive this process.
func platformInstall(dir string) func(context.Context, Request) error {
	return func(_ context.Context, r Request) error {
		log := filepath.Join(dir, "msiexec-"+r.Version+".log")
		args, err := MSICommand(os.Getenv("SystemRoot"), r.Package, log)
		if err != nil {
			return err
		}
		cmd := exec.Command(args[0], args[1:]...)
		const detachedProcess = 0x00000008
		cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP | detachedProcess}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start msiexec: %w", err)
		}
		return cmd.Process.Release()
	}
}

// selfResult: no installer writes result.json on Windows; the new agent
// does, from its health checks.
const selfResult = true
