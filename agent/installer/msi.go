package installer

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"casefleet/shared/release"
)

// MSI installs the Windows agent's .msi packages with msiexec. The MSI's
// Upgrade table removes any other installed version, newer ones included
// (packaging/windows/casefleet-agent.wxs), so installing the kept package
// is the rollback.
//
// Windows Installer keeps no version an agent would recognise (its
// ProductVersion is only numeric: 1.6.0 for v1.6.0-3-gabc1234), so the
// versions are the releases': Installed asks the installed executable
// (`casefleet-agent.exe version`), FileVersion reads the signed manifest
// the installer keeps beside each package file.
type MSI struct {
	// Msiexec is msiexec.exe; DefaultMsiexec() when empty (never one found
	// on PATH).
	Msiexec string
	// Agent is the installed casefleet-agent.exe, asked its version.
	Agent string
	// LogDir gets msiexec's verbose logs: msiexec-install.log and
	// msiexec-reinstall.log, each overwritten by the next run.
	LogDir string
	// Key verifies the manifests FileVersion reads.
	Key ed25519.PublicKey
}

// msiRebootRequired is msiexec's exit status for "installed; a restart of
// the PC would finish it" (ERROR_SUCCESS_REBOOT_REQUIRED): installed, and
// /norestart keeps the PC up.
const msiRebootRequired = 3010

func (m MSI) run(ctx context.Context, file, log string) error {
	args, err := MSICommand(m.Msiexec, file, filepath.Join(m.LogDir, log))
	if err != nil {
		return err
	}
	_, err = command(ctx, args[0], args[1:]...)
	if err != nil && !rebootRequired(err) {
		return fmt.Errorf("%w (msiexec's log: %s)", err, args[len(args)-1])
	}
	return nil
}

// rebootRequired: msiexec exited 3010 (a status a stand-in elsewhere than
// on Windows cannot exit with: there they are 8 bits).
func rebootRequired(err error) bool {
	var exit interface{ ExitCode() int }
	return errors.As(err, &exit) && exit.ExitCode() == msiRebootRequired
}

// Install runs msiexec /i on the package, quietly, without restarting the PC.
func (m MSI) Install(ctx context.Context, file string) error {
	return m.run(ctx, file, "msiexec-install.log")
}

// Reinstall is msiexec /i too: the MSI replaces whatever version is
// installed, an older one as well as a newer one.
func (m MSI) Reinstall(ctx context.Context, file string) error {
	return m.run(ctx, file, "msiexec-reinstall.log")
}

// Repair has nothing to do: Windows Installer rolls back a failed install
// by itself; what a cut leaves (no executable) Installed reports as not
// installed, and the rollback reinstalls.
func (MSI) Repair(context.Context) error { return nil }

// Installed runs the installed executable's `version` ("casefleet-agent
// v1.6.0"); no executable, no version.
func (m MSI) Installed(ctx context.Context) (string, error) {
	if m.Agent == "" {
		return "", errors.New("no agent executable to ask its version (--agent-exe)")
	}
	out, err := command(ctx, m.Agent, "version")
	if err != nil {
		return "", err
	}
	f := strings.Fields(out)
	if len(f) != 2 || f[0] != Package {
		return "", fmt.Errorf("%s version said %q", m.Agent, strings.TrimSpace(out))
	}
	return f[1], nil
}

// FileVersion is the version of the release whose signed manifest lies
// beside file as manifest.json (where the installer keeps it) and names
// file.
func (m MSI) FileVersion(_ context.Context, file string) (string, error) {
	if len(m.Key) == 0 {
		return "", errors.New("no release key to read the package's manifest with")
	}
	path := filepath.Join(filepath.Dir(file), KeptManifest)
	data, err := readLimited(path)
	if err != nil {
		return "", err
	}
	man, err := release.Verify(m.Key, data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	for _, p := range man.Packages {
		if p.File == filepath.Base(file) {
			return man.Version, nil
		}
	}
	return "", fmt.Errorf("%s does not name %s", path, filepath.Base(file))
}

// DefaultMsiexec is %SystemRoot%\System32\msiexec.exe (C:\Windows when
// SystemRoot is not set).
func DefaultMsiexec() string {
	root := os.Getenv("SystemRoot")
	if root == "" {
		root = `C:\Windows`
	}
	return strings.TrimRight(root, `\`) + `\System32\msiexec.exe`
}

// MSICommand is the command line that installs the verified MSI pkg:
// msiexec /i PKG /qn /norestart /l*v LOG, quiet and without a restart of
// the PC, logging verbosely to log. msiexec is DefaultMsiexec() when
// empty. It refuses what msiexec would misread: relative paths, a package
// that is not an .msi, quotes or line breaks in a path.
func MSICommand(msiexec, pkg, log string) ([]string, error) {
	if msiexec == "" {
		msiexec = DefaultMsiexec()
	}
	for _, p := range []struct{ what, path string }{{"package", pkg}, {"log", log}, {"msiexec", msiexec}} {
		if !isAbs(p.path) {
			return nil, fmt.Errorf("msiexec: the %s %q is not an absolute path", p.what, p.path)
		}
		if strings.ContainsAny(p.path, "\"\r\n\x00") {
			return nil, fmt.Errorf("msiexec: the %s %q has a quote or a line break", p.what, p.path)
		}
	}
	if !strings.EqualFold(filepath.Ext(strings.ReplaceAll(pkg, `\`, "/")), ".msi") {
		return nil, fmt.Errorf("msiexec: %q is not an .msi package", pkg)
	}
	return []string{msiexec, "/i", pkg, "/qn", "/norestart", "/l*v", log}, nil
}

// isAbs: an absolute Windows path (C:\... or \\server\share\...), whatever
// GOOS this runs on, or an absolute path of this system (for the tests'
// stand-in msiexec elsewhere than on Windows).
func isAbs(p string) bool {
	if strings.HasPrefix(p, `\\`) && len(p) > 2 {
		return true
	}
	if len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') &&
		(p[0] >= 'A' && p[0] <= 'Z' || p[0] >= 'a' && p[0] <= 'z') {
		return true
	}
	return filepath.IsAbs(p)
}
