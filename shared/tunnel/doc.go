// Package tunnel is the link between a kiosk agent and the cloud relay,
// used by both ends.
//
// Kiosks sit behind NAT, so the agent dials out (RunAgent) and keeps one
// WebSocket open to {relay}/agent/connect. The relay checks the kiosk's
// credentials and upgrades (Accept). After that the WebSocket carries a
// yamux session, binary messages only, no framing of our own: the relay is
// the yamux client and opens one stream per customer connection
// (Conn.DialContext, so an http.Transport and an httputil.ReverseProxy work
// unchanged), and the agent is the yamux server and serves its ordinary
// http.Handler on every stream, WebSocket upgrades included. The agent may
// open streams too, for its own requests to the relay (RelayClient, served
// by AcceptOptions.AgentHandler: the update API); a relay without one
// resets them.
//
// The handshake, in HTTP headers of the upgrade:
//
//	agent -> relay  Authorization: Bearer <enrollment token>
//	                X-Casefleet-Machine: <machine code>
//	                X-Casefleet-Version: <agent version>
//	relay -> agent  101 Switching Protocols
//	                X-Casefleet-Public-Url: <public base URL of this kiosk>
//	             or 4xx/5xx {"error":{"code":"...","message":"..."}}
//	                (409 machine_already_connected: another agent holds
//	                the machine's live tunnel)
//
// Both ends ping each other every KeepAlive interval and drop a link whose
// ping goes unanswered for one more interval, so a dead or half-open link
// is noticed within two intervals (20 s with the default of 10 s). The
// relay ends a tunnel at once at the header of a WebSocket frame larger
// than any of ours (maxMessageLen).
package tunnel
