package main

import (
	"context"

	"casefleet/scripts/internal/benchsys"
	"casefleet/shared/testenv"
)

// The system on loopback, as agent/web's relay_procs_test.go starts it
// (here through benchsys, as scripts/tunnelbench does): the printer
// simulator, the relay and one kiosk agent, each the real binary.

const (
	machineCode     = benchsys.MachineCode
	machineLocation = "mall-3f"
)

// system is the running processes and what the phone needs to reach them.
type system struct{ *benchsys.System }

// buildBinaries builds chitusim, casefleet-agent and casefleet-relay into dir.
func buildBinaries(dir string) error {
	return testenv.Build(dir, "casefleet/agent/cmd/chitusim", "casefleet/agent/cmd/casefleet-agent", "casefleet/relay/cmd/casefleet-relay")
}

// startSystem starts the simulator, the relay and the agent from the
// binaries in bin, and waits until the machine answers through the relay.
// On error, what was started is stopped.
func startSystem(ctx context.Context, bin, dir string) (*system, error) {
	s, err := benchsys.Start(ctx, benchsys.Options{
		Bin: bin, Dir: dir,
		MachineName: "Mall 3F, east escalator", MachineLocation: machineLocation,
		// Prints take a second, so the orders of earlier runs never fill the line.
		PrintSeconds: 1,
		// The relay's own limits stay at their defaults: the phone meets them too.
		RelayArgs: []string{"--instance-id", "journey-bench-relay"},
		AgentEnv:  []string{"CASEFLEET_CHITU_POLL_INTERVAL=1s"},
	})
	if err != nil {
		return nil, err
	}
	return &system{s}, nil
}

// editorURL is the kiosk's QR code link.
func (s *system) editorURL() string {
	return s.RelayURL + "/editor?machine=" + machineCode + "&location=" + machineLocation
}
