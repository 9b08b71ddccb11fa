// Command mkmanifest writes the signed release manifest of agent packages
// (see package release): build.sh runs it for `make package
// RELEASE_KEY=...`, after building them.
//
//	mkmanifest -key release.key -version v1.5.0 -out DIR/casefleet-agent-1.5.0.manifest.json PACKAGE...
package main

import (
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"casefleet/shared/release"
)

func main() {
	key := flag.String("key", "", "the release private key (release.key from casefleet-relay release-keygen)")
	version := flag.String("version", "", "the release's version, as git describe prints it (v1.5.0)")
	out := flag.String("out", "", "the manifest file to write")
	flag.Parse()
	if err := run(*key, *version, *out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "mkmanifest:", err)
		os.Exit(1)
	}
}

func run(keyFile, version, out string, files []string) error {
	if keyFile == "" || version == "" || out == "" || len(files) == 0 {
		return errors.New("want -key, -version, -out and at least one package")
	}
	priv, err := release.LoadPrivateKey(keyFile)
	if err != nil {
		return err
	}
	m := release.Manifest{Version: version, Created: time.Now().UTC().Truncate(time.Second)}
	for _, f := range files {
		p, err := release.Describe(f)
		if err != nil {
			return err
		}
		m.Packages = append(m.Packages, p)
	}
	data, err := release.Sign(priv, m)
	if err != nil {
		return err
	}
	// What is written must verify: a key file damaged in a way that still
	// parses would otherwise sign releases no agent installs.
	if _, err := release.Verify(priv.Public().(ed25519.PublicKey), data); err != nil {
		return fmt.Errorf("the manifest does not verify with the key's own public half: %w", err)
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}
