//go:build !windows

package update

import "context"

// platformInstall on Linux does nothing more: request.json is the
// request, and the root-owned casefleet-agent-update.path unit starts the
// installer when it appears; the agent stays unprivileged.
func platformInstall(Options) func(context.Context, Request) error {
	return func(context.Context, Request) error { return nil }
}
