//go:build windows

package update

import (
	"context"
	"fmt"
	"os"
	"syscall"
)

// platformInstall on Windows starts the installer (installerCmd) as the
// service runs, LocalSystem. msiexec stops the service, so the installer
// is started detached, in its own process group, and not waited for: it
// must outlive this process, wait for the new agent's health.json, roll
// back, and write result.json.
func platformInstall(opt Options) func(context.Context, Request) error {
	return func(context.Context, Request) error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		cmd, log, err := installerCmd(opt, exe)
		if err != nil {
			return err
		}
		defer log.Close()
		const detachedProcess = 0x00000008
		cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP | detachedProcess}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start the installer: %w", err)
		}
		return cmd.Process.Release()
	}
}
