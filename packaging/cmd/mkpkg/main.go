// Command mkpkg builds one .deb or .rpm from an nfpm recipe with the nfpm
// library, so that packaging needs nothing beyond Go. packaging/build.sh
// calls it:
//
//	mkpkg -recipe packaging/agent/nfpm.yaml -format deb \
//	      -version "$(git describe --tags --always --dirty)" \
//	      -arch amd64 -bin build/linux-amd64 -out dist
//
// The recipe's ${VERSION} becomes the package version made from the git
// version (see packageVersion), ${ARCH} the Go architecture and ${BIN} the
// folder of the binaries; other ${NAME}s come from the environment, as with
// the nfpm command. Relative paths in the recipe are relative to its folder.
// mkpkg prints the path of the package it wrote.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

func main() {
	path, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkpkg:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

func run(args []string) (string, error) {
	fs := flag.NewFlagSet("mkpkg", flag.ContinueOnError)
	recipe := fs.String("recipe", "", "nfpm recipe (YAML)")
	format := fs.String("format", "deb", "package format: deb or rpm")
	version := fs.String("version", "", "version as `git describe --tags --always --dirty` prints it")
	arch := fs.String("arch", "amd64", "Go architecture of the binaries")
	bin := fs.String("bin", "", "folder holding the binaries the recipe names as ${BIN}/...")
	out := fs.String("out", ".", "folder to write the package to")
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if *recipe == "" || *version == "" || *bin == "" {
		return "", errors.New("-recipe, -version and -bin are required")
	}
	pkgVersion, err := packageVersion(*version)
	if err != nil {
		return "", err
	}
	// Relative to where mkpkg was started, before it moves to the recipe.
	binDir, err := filepath.Abs(*bin)
	if err != nil {
		return "", err
	}
	outDir, err := filepath.Abs(*out)
	if err != nil {
		return "", err
	}
	vars := map[string]string{"VERSION": pkgVersion, "ARCH": *arch, "BIN": binDir}
	return build(*recipe, *format, outDir, func(name string) string {
		if v, ok := vars[name]; ok {
			return v
		}
		return os.Getenv(name)
	})
}

// build writes the package of the recipe in format to outDir and returns
// its path.
func build(recipe, format, outDir string, vars func(string) string) (string, error) {
	// The recipe's paths are relative to its folder. This is a one-shot
	// command, so changing the working directory is harmless.
	if err := os.Chdir(filepath.Dir(recipe)); err != nil {
		return "", err
	}
	config, err := nfpm.ParseFileWithEnvMapping(filepath.Base(recipe), vars)
	if err != nil {
		return "", fmt.Errorf("read recipe %s: %w", recipe, err)
	}
	info, err := config.Get(format)
	if err != nil {
		return "", fmt.Errorf("recipe %s for %s: %w", recipe, format, err)
	}
	info = nfpm.WithDefaults(info)
	packager, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(outDir, packager.ConventionalFileName(info))
	info.Target = path
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := packager.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("build %s package from %s: %w", format, recipe, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, nil
}
