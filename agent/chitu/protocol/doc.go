// Package protocol holds the wire format of the Chitu open platform: the
// open-API request signature, the response envelope, machine and catalogue
// records, and the MQTT messages and topics. Both the real device link
// (package chitu) and the simulator (package sim) speak through it, so the
// two cannot drift apart. See shared/docs/chitu-protocol.md.
package protocol
