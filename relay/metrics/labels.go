package metrics

import "slices"

// The label values of the counters: small fixed sets, so that no label
// grows with what clients send.

// Why a tunnel ended.
const (
	DisconnectDropped  = "dropped"  // the agent went away or stopped answering pings
	DisconnectReplaced = "replaced" // the same kiosk opened a newer tunnel here
	DisconnectMoved    = "moved"    // the kiosk's newer tunnel is on another relay
	DisconnectRevoked  = "revoked"  // its token was revoked
	DisconnectShutdown = "shutdown" // the relay stopped
)

// DisconnectReasons lists every reason a tunnel ends.
var DisconnectReasons = []string{DisconnectDropped, DisconnectReplaced, DisconnectMoved, DisconnectRevoked, DisconnectShutdown}

// Why a tunnel was refused: the codes the agent is told, and the relay's
// own.
const (
	RefusedTokenExpired      = "token_expired"
	RefusedTokenNotYetValid  = "token_not_yet_valid"
	RefusedTokenInvalid      = "token_invalid"   // not signed by the fleet key
	RefusedTokenMalformed    = "token_malformed" // not a token at all
	RefusedTokenRevoked      = "token_revoked"
	RefusedWrongMachine      = "wrong_machine" // the token is for another machine code
	RefusedForbidden         = "forbidden"     // any other refusal of the token
	RefusedUnavailable       = "unavailable"   // the relay could not check the token just now
	RefusedMissingToken      = "missing_token"
	RefusedInvalidMachine    = "invalid_machine"    // the machine code header is not a valid code
	RefusedWebSocketRequired = "websocket_required" // not a WebSocket upgrade
	RefusedHandshake         = "handshake_failed"   // the token was fine, the WebSocket handshake was not
	RefusedShuttingDown      = "shutting_down"
	RefusedAlreadyConnected  = "machine_already_connected" // another agent holds a live tunnel for the machine
)

// RefusalReasons lists every reason a tunnel is refused.
var RefusalReasons = []string{
	RefusedTokenExpired, RefusedTokenNotYetValid, RefusedTokenInvalid, RefusedTokenMalformed,
	RefusedTokenRevoked, RefusedWrongMachine, RefusedForbidden, RefusedUnavailable, RefusedMissingToken,
	RefusedInvalidMachine, RefusedWebSocketRequired, RefusedHandshake, RefusedShuttingDown,
	RefusedAlreadyConnected,
}

// Directions of requests between relays.
const (
	PeerSent     = "sent"     // to the relay that holds the machine's tunnel
	PeerReceived = "received" // from a relay that does not
)

// PeerDirections lists both directions.
var PeerDirections = []string{PeerSent, PeerReceived}

// DirectoryOps are the Redis directory's operations (route.Directory).
var DirectoryOps = []string{"claim", "refresh", "release", "lookup", "online", "seen", "fleet", "session", "ping"}

// The rate limits.
const (
	LimitIP      = "ip"
	LimitSession = "session"
	// Caps on customers' WebSockets open at once.
	LimitStreamsIP      = "streams_ip"
	LimitStreamsSession = "streams_session"
)

// Limits lists the rate limits and the caps on WebSockets.
var Limits = []string{LimitIP, LimitSession, LimitStreamsIP, LimitStreamsSession}

// other stands for a label value outside its set: a bug, but one that
// must not grow the number of series.
const other = "other"

func known(v string, set []string) string {
	if slices.Contains(set, v) {
		return v
	}
	return other
}
