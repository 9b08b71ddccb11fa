package update

import (
	"fmt"
	"path/filepath"
	"strings"
)

// MSICommand is the command line that installs the verified MSI pkg on
// Windows: msiexec /i PKG /qn /norestart /l*v LOG, quiet and without a
// restart of the PC, logging verbosely to log. msiexec is the one in
// System32 under systemRoot (never one found on PATH). It refuses what
// msiexec would misread: relative paths, a package that is not an .msi,
// quotes or line breaks in a path.
func MSICommand(systemRoot, pkg, log string) ([]string, error) {
	if systemRoot == "" {
		systemRoot = `C:\Windows`
	}
	for _, p := range []struct{ what, path string }{{"package", pkg}, {"log", log}, {"SystemRoot", systemRoot}} {
		if !isAbsWindows(p.path) {
			return nil, fmt.Errorf("msiexec: the %s %q is not an absolute Windows path", p.what, p.path)
		}
		if strings.ContainsAny(p.path, "\"\r\n\x00") {
			return nil, fmt.Errorf("msiexec: the %s %q has a quote or a line break", p.what, p.path)
		}
	}
	if !strings.EqualFold(filepathExt(pkg), ".msi") {
		return nil, fmt.Errorf("msiexec: %q is not an .msi package", pkg)
	}
	msiexec := strings.TrimRight(systemRoot, `\`) + `\System32\msiexec.exe`
	return []string{msiexec, "/i", pkg, "/qn", "/norestart", "/l*v", log}, nil
}

// isAbsWindows: C:\... or \\server\share\..., whatever GOOS this runs on.
func isAbsWindows(p string) bool {
	if strings.HasPrefix(p, `\\`) && len(p) > 2 {
		return true
	}
	return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') &&
		(p[0] >= 'A' && p[0] <= 'Z' || p[0] >= 'a' && p[0] <= 'z')
}

func filepathExt(p string) string {
	return filepath.Ext(strings.ReplaceAll(p, `\`, "/"))
}
