package update

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// On Windows no service manager starts the installer: the agent's service
// (LocalSystem) starts `update-install --format msi` itself, from a copy
// of its own executable in the update directory, since msiexec replaces
// the installed one and stops the service meanwhile.
const (
	installerExe = "casefleet-agent-update-install.exe" // the copy, in the update directory
	installerLog = "update-install.log"                 // its output, appended
	installerDir = "update-install"                     // its work directory, beside the update directory
)

// installerCmd copies the running executable exe into the update
// directory and returns the command running update-install from the copy
// for the request, with its output appended to update-install.log (log,
// the caller's to close once the command started).
func installerCmd(opt Options, exe string) (cmd *exec.Cmd, log *os.File, err error) {
	agentExe, err := filepath.Abs(exe)
	if err != nil {
		return nil, nil, err
	}
	copyExe := filepath.Join(opt.Dir, installerExe)
	if err := copyFile(agentExe, copyExe); err != nil {
		return nil, nil, fmt.Errorf("copy the agent's executable to run the installer from: %w", err)
	}
	log, err = os.OpenFile(filepath.Join(opt.Dir, installerLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	cmd = exec.Command(copyExe, "update-install", "--format", "msi",
		"--dir", opt.Dir, "--work", installerWork(opt),
		"--release-pub", opt.ReleasePub, "--agent-exe", agentExe)
	cmd.Stdout, cmd.Stderr = log, log
	return cmd, log, nil
}

// installerWork is the installer's work directory on Windows, beside the
// update directory.
func installerWork(opt Options) string { return filepath.Join(filepath.Dir(opt.Dir), installerDir) }

// copyFile copies src to dst whole (a temporary file renamed over dst).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, in)
	if err == nil {
		err = tmp.Chmod(0o755)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
