// Package api is the agent's customer HTTP API (product.md, "Public HTTP
// API"): machine status and catalogue, sessions, orders, the print files
// the machine fetches, and the resumable events WebSocket. The same handler
// is served on the LAN listener and through the relay tunnel.
//
// Errors are JSON {"error": {"code", "message"}} with the matching HTTP
// status. A customer proves who they are with the sessionId the session
// endpoint gave them, sent as the X-Session-Id header (or the sessionId
// query parameter, for WebSockets).
//
// POST .../print takes an Idempotency-Key header (the IETF httpapi
// draft's): the order is made once per session and key, so a phone whose
// answer was lost can send the same request again and get the same order
// (200, Idempotent-Replayed: true) rather than a second one. The key lives
// with the order in the queue (a day at least), so a restart keeps it.
package api
