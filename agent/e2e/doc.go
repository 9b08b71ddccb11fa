// Package e2e holds the agent's process-level tests: they build the real
// binaries (casefleet-agent, chitusim), run them on loopback, and kill,
// restart and disconnect them, since that is what the behaviour is about.
package e2e
