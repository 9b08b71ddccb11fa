// Package mux carries many streams over one connection, speaking
// yamux's wire protocol (github.com/hashicorp/yamux, its spec.md), so
// that ends built on hashicorp/yamux talk to it unchanged.
//
// It exists for speed: hashicorp/yamux hands every frame to a send
// goroutine and waits for it, and copies every body on the way. Here the
// goroutine that writes a frame writes it to the connection itself, and
// frames queued by others meanwhile go out with it, in one Write (see
// sender). Only the receive loop has a goroutine of its own.
//
// The connection's Write is called from one goroutine at a time with
// whole frames, one or several; its Read is a byte stream.
package mux

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The frame header: version, type, flags (2), stream id (4), length (4).
// A data frame's length counts the body bytes that follow; a window
// update's is the window's growth; a ping's its opaque value; a go away's
// its reason.
const headerLen = 12

const protoVersion = 0

const (
	typeData uint8 = iota
	typeWindowUpdate
	typePing
	typeGoAway
)

const (
	flagSYN uint16 = 1 << iota
	flagACK
	flagFIN
	flagRST
)

// Reasons of a go away.
const (
	goAwayNormal uint32 = iota
	goAwayProtoErr
	goAwayInternalErr
)

// initialWindow is every stream's window until its receiver widens it:
// the protocol's fixed starting point.
const initialWindow = 256 << 10

type header [headerLen]byte

func makeHeader(typ uint8, flags uint16, id, length uint32) header {
	var h header
	h[0] = protoVersion
	h[1] = typ
	binary.BigEndian.PutUint16(h[2:4], flags)
	binary.BigEndian.PutUint32(h[4:8], id)
	binary.BigEndian.PutUint32(h[8:12], length)
	return h
}

func (h *header) version() uint8 { return h[0] }
func (h *header) typ() uint8     { return h[1] }
func (h *header) flags() uint16  { return binary.BigEndian.Uint16(h[2:4]) }
func (h *header) stream() uint32 { return binary.BigEndian.Uint32(h[4:8]) }
func (h *header) length() uint32 { return binary.BigEndian.Uint32(h[8:12]) }
func (h *header) String() string {
	return fmt.Sprintf("type %d flags %#x stream %d length %d", h.typ(), h.flags(), h.stream(), h.length())
}

// Errors a session or a stream reports.
var (
	// ErrSessionClosed: the session is down (closed here, by the peer, or
	// because its connection failed; Session.Err says which).
	ErrSessionClosed = errors.New("mux: session closed")
	// ErrStreamReset: the peer reset the stream, or the session went down
	// under it.
	ErrStreamReset = errors.New("mux: stream reset")
	// ErrStreamClosed: the stream was closed on this side.
	ErrStreamClosed = errors.New("mux: stream closed")
	// ErrRemoteGoAway: the peer takes no new streams.
	ErrRemoteGoAway = errors.New("mux: the peer takes no new streams")
	// ErrProtocol: the peer broke the protocol; the session is down.
	ErrProtocol = errors.New("mux: protocol error")
)

// timeoutError is what a stream's Read or Write returns when its deadline
// passes, a net.Error whose Timeout is true, as net/http expects.
type timeoutError struct{}

func (timeoutError) Error() string   { return "mux: i/o deadline reached" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
