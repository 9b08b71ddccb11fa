package installer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Package is the name of the agent's package in dpkg's and rpm's databases.
const Package = "casefleet-agent"

// Tool is the platform's package tool, as the installer uses it.
type Tool interface {
	// Install installs a newer package file over the installed one.
	Install(ctx context.Context, file string) error
	// Reinstall installs a package file whatever is installed now, an
	// older version included (the rollback).
	Reinstall(ctx context.Context, file string) error
	// Repair finishes what an interrupted run of the tool left half done.
	Repair(ctx context.Context) error
	// Installed is the version of the agent's package fully installed now;
	// an error when none is (not installed, or half installed).
	Installed(ctx context.Context) (string, error)
	// FileVersion is the version of a package file, as Installed says it.
	FileVersion(ctx context.Context, file string) (string, error)
}

// Dpkg installs .deb packages. Root, when set, is a throw-away root to
// install into (dpkg --root): for tests.
type Dpkg struct {
	Dpkg, Query, Deb string // the commands: dpkg, dpkg-query, dpkg-deb by default
	Root             string
}

func (d Dpkg) args(args ...string) []string {
	if d.Root != "" {
		return append([]string{"--root=" + d.Root}, args...)
	}
	return args
}

// Install runs dpkg -i, keeping any local edit of a config file without
// asking (there is nobody to ask).
func (d Dpkg) Install(ctx context.Context, file string) error {
	_, err := command(ctx, or(d.Dpkg, "dpkg"), d.args("--force-confdef", "--force-confold", "-i", file)...)
	return err
}

// Reinstall is dpkg -i too: dpkg installs an older version when told to
// install its file.
func (d Dpkg) Reinstall(ctx context.Context, file string) error { return d.Install(ctx, file) }

// Repair runs dpkg --configure -a.
func (d Dpkg) Repair(ctx context.Context) error {
	_, err := command(ctx, or(d.Dpkg, "dpkg"), d.args("--force-confdef", "--force-confold", "--configure", "-a")...)
	return err
}

// Installed asks dpkg-query for the package's status and version.
func (d Dpkg) Installed(ctx context.Context) (string, error) {
	out, err := command(ctx, or(d.Query, "dpkg-query"), d.args("-W", "-f=${db:Status-Abbrev}|${Version}", Package)...)
	if err != nil {
		return "", err
	}
	status, version, _ := strings.Cut(strings.TrimSpace(out), "|")
	if strings.TrimSpace(status) != "ii" {
		return "", fmt.Errorf("%s is not fully installed (dpkg status %q, version %q)", Package, status, version)
	}
	return version, nil
}

// FileVersion reads the .deb's control field Version.
func (Dpkg) FileVersion(ctx context.Context, file string) (string, error) {
	out, err := command(ctx, "dpkg-deb", "-f", file, "Version")
	return strings.TrimSpace(out), err
}

// RPM installs .rpm packages. Root, when set, is a throw-away root (rpm
// --root).
type RPM struct {
	RPM  string // the command: rpm by default
	Root string
}

func (r RPM) args(args ...string) []string {
	if r.Root != "" {
		return append([]string{"--root", r.Root}, args...)
	}
	return args
}

const rpmFormat = "%{VERSION}-%{RELEASE}\n"

// Install runs rpm -U.
func (r RPM) Install(ctx context.Context, file string) error {
	_, err := command(ctx, or(r.RPM, "rpm"), r.args("-U", file)...)
	return err
}

// Reinstall runs rpm -U --oldpackage --replacepkgs: an older version, or
// the same one again over a damaged installation.
func (r RPM) Reinstall(ctx context.Context, file string) error {
	_, err := command(ctx, or(r.RPM, "rpm"), r.args("-U", "--oldpackage", "--replacepkgs", file)...)
	return err
}

// Repair has nothing to do: rpm has no half-configured state to finish.
// What a cut transaction leaves (two versions in the database) Installed
// reports as not installed, and the rollback reinstalls.
func (RPM) Repair(context.Context) error { return nil }

// Installed asks rpm -q; two versions at once (a cut transaction) is none.
func (r RPM) Installed(ctx context.Context) (string, error) {
	out, err := command(ctx, or(r.RPM, "rpm"), r.args("-q", "--qf", rpmFormat, Package)...)
	if err != nil {
		return "", err
	}
	lines := strings.Fields(out)
	if len(lines) != 1 {
		return "", fmt.Errorf("rpm lists %d versions of %s: %q", len(lines), Package, out)
	}
	return lines[0], nil
}

// FileVersion asks rpm -qp.
func (r RPM) FileVersion(ctx context.Context, file string) (string, error) {
	out, err := command(ctx, or(r.RPM, "rpm"), r.args("-qp", "--qf", rpmFormat, file)...)
	return strings.TrimSpace(out), err
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// command runs a package tool with no terminal and nobody to answer its
// questions, and returns its standard output; its error carries the end of
// what it said.
func command(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		said := strings.TrimSpace(stderr.String() + "\n" + lastLines(stdout.String(), 3))
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, lastLines(said, 6))
	}
	return stdout.String(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
