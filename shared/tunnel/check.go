package tunnel

import (
	"context"
	"net/http"
)

// Check dials the relay once with the agent's credentials, as RunAgent
// would, and hangs up as soon as the relay has answered. It returns the
// public URL the relay announced, or why the relay refused (a
// *RefusedError) or could not be reached. `casefleet-agent enroll` and
// `doctor` use it to test a token before relying on it; it opens no
// tunnel (HeaderCheck), so it neither disturbs the agent's own nor is
// refused because that one is connected.
func Check(ctx context.Context, relayURL, machineCode, token, version string) (publicURL string, err error) {
	a, err := newAgent(AgentConfig{
		RelayURL: relayURL, MachineCode: machineCode, Token: token, Version: version,
		Handler: http.NotFoundHandler(),
	})
	if err != nil {
		return "", err
	}
	l, publicURL, err := a.dial(ctx, true)
	if err != nil {
		return "", err
	}
	if l != nil { // an older relay opened a tunnel all the same
		l.Close()
	}
	return publicURL, nil
}
