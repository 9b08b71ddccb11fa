// Package dispatch drives one printer from the durable queue: it hands the
// head order to the machine (one at a time), follows the machine's MQTT
// order statuses, releases orders left unpaid, puts an order back at the
// head when the machine goes offline mid-print, and keeps the machine's
// status for customers and operators.
//
// Every decision is taken from what the queue has stored, so a restart (even
// after kill -9) simply carries on: recovery is reading, not repairing.
//
// "Never sent twice": an order is marked "sending" durably before the
// create-order call. If the call fails ambiguously (timeout, connection cut,
// crash), the order is not sent again until ResendGrace has passed with no
// sign that the machine got it: the machine fetching the print file, or an
// order status for an order we do not know, which is adopted.
package dispatch
