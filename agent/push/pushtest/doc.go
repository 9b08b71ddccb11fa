// Package pushtest plays the two other parties of Web Push in tests of
// the agent's sender (agent/push): the customer's browser and the
// browser vendor's push service, both on loopback.
//
//   - A Browser holds what a browser creates when it subscribes (a P-256
//     key pair and a 16-byte auth secret) and decrypts a message the way
//     a browser does (RFC 8291, RFC 8188). Its decryption is written
//     independently of agent/push's encryption, so the two check each
//     other.
//   - VerifyVAPID checks the VAPID Authorization header of a message
//     (RFC 8292): the key is the agent's and the ES256 JWT verifies.
//   - A PushService is a push service on 127.0.0.1 that records every
//     message it receives and answers with scripted statuses; Open
//     checks a received message as a real push service and browser would
//     (RFC 8030 headers, VAPID, decryption) and returns its plaintext.
//
// It imports nothing of agent/push (whose own tests use it), so it knows
// the wire and not the sender's types.
package pushtest
