package server

import (
	"net/http"

	"casefleet/relay/metrics"
	"casefleet/shared/enroll"
	"casefleet/shared/machine"
	"casefleet/shared/tunnel"
)

// authResult remembers what the Authenticator said during one tunnel
// handshake, so that a refusal can be counted under its reason.
type authResult struct {
	called bool
	err    error
}

func (a *authResult) record(auth tunnel.Authenticator) tunnel.Authenticator {
	return func(r *http.Request, code, token string) (enroll.Claims, error) {
		c, err := auth(r, code, token)
		a.called, a.err = true, err
		return c, err
	}
}

// refusalReason is the reason code of a tunnel that tunnel.Accept
// refused: the one the agent was told. Accept checks, in order, that the
// request is a WebSocket upgrade, the machine code, that there is a token,
// the token, and then upgrades.
func refusalReason(r *http.Request, auth authResult) string {
	switch {
	case auth.called && auth.err != nil:
		return tunnel.RefusalCode(auth.err) // the same codes as the metrics' Refused*
	case auth.called:
		return metrics.RefusedHandshake
	case !tunnel.IsWebSocketUpgrade(r):
		return metrics.RefusedWebSocketRequired
	case machine.ValidateCode(r.Header.Get(tunnel.HeaderMachine)) != nil:
		return metrics.RefusedInvalidMachine
	default:
		return metrics.RefusedMissingToken
	}
}
