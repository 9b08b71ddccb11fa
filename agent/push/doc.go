// Package push sends Web Push notifications to customers who asked for
// them: "your turn: pay at the kiosk now", "your case is ready" and "there
// was a problem with your order", even when the page is closed.
//
// The web app subscribes through the browser's push service and posts the
// subscription here (POST .../push with X-Session-Id); GET .../push/key
// gives it the agent's VAPID public key first. A Service keeps one
// subscription per session in the agent's bbolt file, follows the queue's
// event log and sends each notice once.
//
// On the wire it follows the three RFCs browsers implement:
//   - RFC 8030: POST to the subscription's endpoint with TTL, Urgency and
//     Topic headers; 404 or 410 means the subscription is gone for good.
//   - RFC 8291: the payload is encrypted for the browser (ECDH P-256 with
//     the subscription's p256dh key, HKDF-SHA-256 with its auth secret,
//     AES-128-GCM in the aes128gcm content coding of RFC 8188).
//   - RFC 8292: VAPID, an ES256 JWT signed with the agent's key, generated
//     once and kept in the bbolt file, so subscriptions survive restarts.
//
// Endpoints are URLs a customer sends, so they are held to https on the
// known push services (AllowedHosts), never an address on the kiosk's LAN.
package push
