package mux

import (
	"io"
	"sync"
)

// maxQueued is the most the frames queued behind a write may take before
// their senders wait for it to finish.
const maxQueued = 512 << 10

// maxInline is the largest body whose frame its sender writes itself
// when nobody is writing. Larger ones (bulk transfers) are queued and
// written by a goroutine, so the sender goes on producing the next while
// the connection takes this one, and consecutive frames share a Write.
const maxInline = 16 << 10

// maxControlQueued bounds what the receive loop may queue (pongs, resets
// of refused streams) when writes do not progress: a peer that floods
// pings but does not read gets no more answers, and nothing grows.
const maxControlQueued = 2 * maxQueued

// maxTurn is how many batches of others' frames a sender writes before
// it hands the rest to a goroutine and returns to its own work: under a
// steady load the queue may never be empty.
const maxTurn = 8

// sender writes frames to the connection. A small frame sent while
// nobody is writing is written by its sender at once, together with
// anything queued meanwhile: a request or an answer goes out with no
// goroutine to hand it to. Other frames are queued (copied) and written
// in as few Writes as they fit, by whoever is writing, or by a goroutine
// started for them that ends when nothing is left.
type sender struct {
	out  io.Writer
	fail func(error) // takes the session down after a failed write

	mu      sync.Mutex
	room    sync.Cond // signalled when queued frames went out or the sender failed
	queued  []byte    // whole frames waiting to be written
	writing bool      // a goroutine is writing, and writes what is queued before it stops
	err     error     // sticky: every send fails once one write failed
}

func newSender(out io.Writer, fail func(error)) *sender {
	s := &sender{out: out, fail: fail}
	s.room.L = &s.mu
	return s
}

// send writes the frame h with body, or queues it. Once it returns the
// frame is on its way in order with every frame sent before it, and body
// may be reused.
func (s *sender) send(h header, body []byte) error {
	s.mu.Lock()
	for s.writing && len(s.queued) >= maxQueued && s.err == nil {
		s.room.Wait()
	}
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	if s.writing || len(body) > maxInline {
		s.queue(h, body)
		if !s.writing {
			s.writing = true
			go s.writeQueued(nil)
		}
		s.mu.Unlock()
		return nil
	}
	s.writing = true
	s.queue(h, body)
	batch := s.take()
	s.mu.Unlock()
	err := s.write(batch)
	s.writeQueued(err)
	return err
}

// sendControl queues a bodiless frame from the receive loop, which must
// never wait for a write (the peer may be waiting for us to read).
func (s *sender) sendControl(h header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || len(s.queued) >= maxControlQueued {
		return
	}
	s.queue(h, nil)
	if !s.writing {
		s.writing = true
		go s.writeQueued(nil)
	}
}

// queue appends a frame to the queue; s.mu is held.
func (s *sender) queue(h header, body []byte) {
	need := len(s.queued) + headerLen + len(body)
	if s.queued == nil || need > cap(s.queued) {
		grown := append(getBuffer(need), s.queued...)
		putBuffer(s.queued)
		s.queued = grown
	}
	s.queued = append(s.queued, h[:]...)
	s.queued = append(s.queued, body...)
}

// writeQueued writes what is queued until nothing is, then ends this
// goroutine's turn as the writer. err is the outcome of the write before.
func (s *sender) writeQueued(err error) {
	s.mu.Lock()
	for turn := 0; err == nil && s.err == nil && len(s.queued) > 0; turn++ {
		if turn == maxTurn {
			s.mu.Unlock()
			go s.writeQueued(nil)
			return
		}
		batch := s.take()
		s.room.Broadcast()
		s.mu.Unlock()
		err = s.write(batch)
		s.mu.Lock()
	}
	failed := err != nil && s.err == nil
	if failed {
		s.err = err
	}
	if s.err != nil {
		putBuffer(s.queued)
		s.queued = nil
	}
	s.writing = false
	s.room.Broadcast()
	s.mu.Unlock()
	if failed {
		s.fail(err)
	}
}

// take hands the queued frames to the writer; s.mu is held.
func (s *sender) take() []byte {
	b := s.queued
	s.queued = nil
	return b
}

func (s *sender) write(batch []byte) error {
	defer putBuffer(batch)
	if len(batch) == 0 {
		return nil
	}
	_, err := s.out.Write(batch)
	return err
}

// close fails every later send with err.
func (s *sender) close(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	if !s.writing {
		putBuffer(s.queued)
		s.queued = nil
	}
	s.room.Broadcast()
	s.mu.Unlock()
}

// Batch buffers are shared by all sessions, in two sizes: small ones for
// the requests, answers and pings of most sessions, large ones for bulk
// transfers. Only a session with frames to write holds one, so thousands
// of idle sessions hold none.
const (
	smallBuffer = 16 << 10
	largeBuffer = maxQueued + maxFrameBody + 2*headerLen
)

var (
	smallBuffers = sync.Pool{New: func() any { b := make([]byte, 0, smallBuffer); return &b }}
	largeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, largeBuffer); return &b }}
)

// getBuffer returns an empty buffer with room for n bytes.
func getBuffer(n int) []byte {
	switch {
	case n <= smallBuffer:
		return (*smallBuffers.Get().(*[]byte))[:0]
	case n <= largeBuffer:
		return (*largeBuffers.Get().(*[]byte))[:0]
	default:
		return make([]byte, 0, n)
	}
}

func putBuffer(b []byte) {
	b = b[:0]
	switch cap(b) {
	case smallBuffer:
		smallBuffers.Put(&b)
	case largeBuffer:
		largeBuffers.Put(&b)
	}
}
