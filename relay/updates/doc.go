// Package updates is the relay's side of agent updates (docs/updates.md):
// the releases directory (signed manifests and packages), the rollout file
// that says which machines should run which version, the update API the
// agents call over their tunnels, and the per-version count of what the
// agents reported, which halts a rollout that fails too often. It keeps no
// state of its own beyond a cache: the files are the operator's, the
// counts live in Redis when the relays share one.
package updates
