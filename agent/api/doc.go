// Package api is the agent's customer HTTP API (product.md, "Public HTTP
// API"): machine status and catalogue, sessions, orders, the print files
// the machine fetches, and the resumable events WebSocket. The same handler
// is served on the LAN listener and through the relay tunnel.
//
// Errors are JSON {"error": {"code", "message"}} with the matching HTTP
// status. A customer proves who they are with the sessionId the session
// endpoint gave them, sent as the X-Session-Id header (or the sessionId
// query parameter, for WebSockets).
package api
