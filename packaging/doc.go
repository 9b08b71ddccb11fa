// Package packaging holds the recipes of casefleet's installable packages
// and the tests that build and install them; build.sh makes the packages
// (`make package`), cmd/mkpkg builds the .deb and .rpm files with nfpm.
//
//	agent/     the kiosk agent's .deb and .rpm: systemd unit, default config, maintainer scripts
//	relay/     the relay's .deb: systemd unit, environment file, maintainer scripts
//	windows/   the kiosk agent's MSI (wixl): the Windows service and an example config
//	relay.Containerfile   the relay's container image
//
// The tests install the .deb on the machine they run on, so they need root;
// they refuse to touch a machine where casefleet is already installed.
package packaging
