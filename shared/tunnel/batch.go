package tunnel

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
)

// yamux's frame header: version, type, flags (2), stream id (4), length
// (4). Only a data frame's length counts body bytes that follow it.
const (
	yamuxHeaderLen = 12
	yamuxTypeData  = 0
)

// maxBatch is the most a batch holds before yamux's writes wait for it to
// go out: a few messages' worth.
const maxBatch = 512 << 10

// batchWriter stands between yamux and the WebSocket. yamux writes each
// frame as two Writes (its header, then its body), and over a WebSocket
// every Write is a message of its own and a syscall. batchWriter gathers
// whole frames and writes, from a goroutine of its own, everything
// gathered while the previous write was under way as one message (split
// at legacyMessageLen, the read limit of peers of every version). So a small answer is one
// message instead of two, and under load many frames share one.
//
// WebSocket message boundaries mean nothing to the reader (both ends read
// the messages as one byte stream), so peers that send a message per
// Write and peers that batch read each other unchanged.
//
// An idle batchWriter holds no buffer and no goroutine.
type batchWriter struct {
	out   io.Writer // each Write is one WebSocket message
	abort func()    // drops the connection at once
	cork  *corkConn // the agent's TCP connection, gathered per batch; nil on the relay

	mu       sync.Mutex
	room     sync.Cond // signalled when a batch went out or the writer failed
	buf      []byte    // bytes waiting; buf[:ready] are whole frames
	ready    int
	frame    frameCursor
	flushing bool  // a flush goroutine is running
	err      error // the first write error, or errBatchClosed; sticky
}

var errBatchClosed = errors.New("tunnel connection closed")

// Batch buffers are recycled between tunnels (only busy tunnels hold
// one), in two sizes: small ones for the pings and small answers of most
// tunnels, and large ones for bulk transfers. One pool for both handed
// the large buffers of the last upload to the keepalive pings of idle
// tunnels, which then kept them alive (3.5 KiB more relay memory per idle
// tunnel at 5,000 tunnels).
const smallBatch = 16 << 10

var (
	smallBatches = sync.Pool{New: func() any { b := make([]byte, 0, smallBatch); return &b }}
	largeBatches = sync.Pool{New: func() any { b := make([]byte, 0, maxBatch+maxMessageLen); return &b }}
)

// getBatch returns an empty buffer with room for n bytes.
func getBatch(n int) []byte {
	if n <= smallBatch {
		return (*smallBatches.Get().(*[]byte))[:0]
	}
	return (*largeBatches.Get().(*[]byte))[:0]
}

func putBatch(b []byte) {
	b = b[:0]
	switch cap(b) {
	case smallBatch:
		smallBatches.Put(&b)
	case maxBatch + maxMessageLen:
		largeBatches.Put(&b)
	}
}

func newBatchWriter(out io.Writer, abort func(), cork *corkConn) *batchWriter {
	b := &batchWriter{out: out, abort: abort, cork: cork}
	b.room.L = &b.mu
	return b
}

// Write queues p, and starts a flush once it completes a frame. It
// returns before p is on the wire (p is copied); a failed flush fails
// every later Write and closes out, which ends the yamux session.
func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.buf) >= maxBatch && b.err == nil {
		b.room.Wait()
	}
	if b.err != nil {
		return 0, b.err
	}
	if len(b.buf)+len(p) > cap(b.buf) {
		// A frame's body is at most a stream window (maxMessageLen
		// with its header), and Write waits above maxBatch: a large
		// buffer always has room.
		grown := append(getBatch(len(b.buf)+len(p)), b.buf...)
		putBatch(b.buf)
		b.buf = grown
	}
	b.buf = append(b.buf, p...)
	if b.frame.advance(p) {
		b.ready = len(b.buf)
	}
	switch {
	case b.ready == 0 || b.flushing:
	case b.ready == len(b.buf) && b.ready <= maxControlBatch:
		// Only control frames (a ping, a window update) and nothing in
		// flight: written here, as before batching. The keepalive pings
		// of thousands of idle tunnels then start no goroutines, whose
		// stacks cost the relay memory per tunnel.
		batch := b.buf
		b.buf, b.ready, b.flushing = nil, 0, true
		b.mu.Unlock()
		err := b.writeMessages(batch)
		putBatch(batch)
		b.mu.Lock()
		b.flushing = false
		if err != nil && b.err == nil {
			b.err = err
			b.abort()
		}
		b.room.Broadcast()
		return len(p), err
	default:
		b.flushing = true
		go b.flush()
	}
	return len(p), nil
}

// maxControlBatch is the most Write sends itself rather than from a flush
// goroutine: two headers without bodies.
const maxControlBatch = 2 * yamuxHeaderLen

// flush writes the whole frames gathered, again and again, until none
// are left.
func (b *batchWriter) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.ready > 0 && b.err == nil {
		batch := b.buf[:b.ready]
		// What follows the whole frames (a header whose body is still to
		// come) starts the next buffer.
		rest := b.buf[b.ready:]
		b.buf, b.ready = nil, 0
		if len(rest) > 0 {
			b.buf = append(getBatch(len(rest)), rest...)
		}
		b.room.Broadcast()

		b.mu.Unlock()
		err := b.writeMessages(batch)
		putBatch(batch)
		b.mu.Lock()

		if err != nil && b.err == nil {
			b.err = err
			b.abort()
		}
	}
	if b.err != nil && b.buf != nil {
		b.buf, b.ready = nil, 0
	}
	b.flushing = false
	b.room.Broadcast()
}

// writeMessages writes p as WebSocket messages of at most
// legacyMessageLen, which peers of every version read.
func (b *batchWriter) writeMessages(p []byte) error {
	if b.cork != nil {
		b.cork.cork()
	}
	for len(p) > 0 {
		n := min(len(p), legacyMessageLen)
		if _, err := b.out.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	if b.cork != nil {
		return b.cork.uncork()
	}
	return nil
}

// Close fails later Writes and wakes any waiting for room.
func (b *batchWriter) Close() {
	b.mu.Lock()
	if b.err == nil {
		b.err = errBatchClosed
	}
	b.room.Broadcast()
	b.mu.Unlock()
}

// frameCursor follows yamux's frames through the bytes written, however
// they are split, to tell where a frame ends.
type frameCursor struct {
	head [yamuxHeaderLen]byte
	got  int    // header bytes seen of the current frame
	body uint32 // body bytes of the current frame still to come
}

// advance consumes p and reports whether it ends exactly at the end of a
// frame.
func (f *frameCursor) advance(p []byte) bool {
	for len(p) > 0 {
		if f.body > 0 {
			n := min(uint32(len(p)), f.body)
			f.body -= n
			p = p[n:]
			continue
		}
		n := copy(f.head[f.got:], p)
		f.got += n
		p = p[n:]
		if f.got == yamuxHeaderLen {
			f.got = 0
			if f.head[1] == yamuxTypeData {
				f.body = binary.BigEndian.Uint32(f.head[8:12])
			}
		}
	}
	return f.got == 0 && f.body == 0
}
