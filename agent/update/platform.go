package update

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"casefleet/shared/release"
)

// FormatFileName is the file the packages install, holding the package
// format the agent was installed from: deb, rpm or msi.
const FormatFileName = "package-format"

// DefaultFormatFile is where the packages put FormatFileName:
// /usr/lib/casefleet-agent on Linux, beside the executable on Windows.
func DefaultFormatFile() string {
	if runtime.GOOS == "windows" {
		exe, err := os.Executable()
		if err != nil {
			return FormatFileName
		}
		return filepath.Join(filepath.Dir(exe), FormatFileName)
	}
	return "/usr/lib/casefleet-agent/" + FormatFileName
}

// ErrNotPackaged: no package-format file, so the agent was not installed
// from a package and does not update itself.
var ErrNotPackaged = errors.New("not installed from a package")

// Platform is this agent's release platform (linux-amd64-deb, ...): its
// GOOS-GOARCH and the package format read from formatFile.
func Platform(formatFile string) (string, error) {
	b, err := os.ReadFile(formatFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w (no %s)", ErrNotPackaged, formatFile)
	}
	if err != nil {
		return "", fmt.Errorf("package format: %w", err)
	}
	return platformFor(runtime.GOOS, runtime.GOARCH, strings.TrimSpace(string(b)))
}

var platforms = []string{release.LinuxAMD64Deb, release.LinuxARM64Deb, release.LinuxAMD64RPM, release.LinuxARM64RPM, release.WindowsAMD64MSI}

func platformFor(goos, goarch, format string) (string, error) {
	p := goos + "-" + goarch + "-" + format
	for _, known := range platforms {
		if p == known {
			return p, nil
		}
	}
	return "", fmt.Errorf("package format %q on %s-%s: no release platform %s (known: %s)", format, goos, goarch, p, strings.Join(platforms, ", "))
}
