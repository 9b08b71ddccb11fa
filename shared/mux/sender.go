package mux

import (
	"io"
	"sync"
)

// maxQueued is the most the frames queued behind a write may take before
// their senders wait for it to finish.
const maxQueued = 512 << 10

// copiedBody is the largest body queued by copy behind a write in
// progress; a larger one waits its turn and is written from its sender's
// own slice.
const copiedBody = 16 << 10

// maxControlQueued bounds what the receive loop may queue (pongs, resets
// of refused streams) when writes do not progress: a peer that floods
// pings but does not read gets no more answers, and nothing grows.
const maxControlQueued = 2 * maxQueued

// sender writes frames to the connection. The goroutine that sends a frame
// while nobody is writing writes it itself, then the frames others queued
// meanwhile, in as few Writes as it can, before it returns: no goroutine
// to hand frames to, and under load many frames share a Write. A frame
// sent while a write is under way is queued (a copy), or, with a large
// body, waits to be written by its own sender.
type sender struct {
	out  io.Writer
	fail func(error) // takes the session down after a failed write

	mu      sync.Mutex
	turn    sync.Cond // signalled when a write ends or the sender fails
	queued  []byte    // whole frames waiting for the writer
	writing bool
	err     error // sticky: every send fails once one write failed
}

func newSender(out io.Writer, fail func(error)) *sender {
	s := &sender{out: out, fail: fail}
	s.turn.L = &s.mu
	return s
}

// send writes the frame h with body, or queues it behind a write under
// way. Once it returns the frame is on its way in order with every frame
// sent before it, and body may be reused.
func (s *sender) send(h header, body []byte) error {
	s.mu.Lock()
	for s.writing && s.err == nil && (len(body) > copiedBody || len(s.queued) >= maxQueued) {
		s.turn.Wait()
	}
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	if s.writing {
		s.queued = append(s.queued, h[:]...)
		s.queued = append(s.queued, body...)
		s.mu.Unlock()
		return nil
	}
	s.writing = true
	batch := s.take()
	s.mu.Unlock()

	batch = append(batch, h[:]...)
	if len(body) <= copiedBody {
		batch = append(batch, body...)
		body = nil
	}
	err := s.write(batch)
	if err == nil && body != nil {
		err = s.write(body)
	}
	putBuffer(batch)
	s.writeQueued(err)
	return err
}

// sendControl queues a bodiless frame from the receive loop, which must
// never wait for a write (the peer may be waiting for us to read). If
// nobody is writing, a goroutine writes it.
func (s *sender) sendControl(h header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || len(s.queued) >= maxControlQueued {
		return
	}
	if s.queued == nil {
		s.queued = getBuffer()
	}
	s.queued = append(s.queued, h[:]...)
	if !s.writing {
		s.writing = true
		go s.writeQueued(nil)
	}
}

// maxTurn is how many batches of others' frames a sender writes before
// it hands the rest to a goroutine and returns to its own work: under a
// steady load the queue may never be empty.
const maxTurn = 8

// writeQueued writes what was queued until nothing is, then ends this
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
		s.turn.Broadcast()
		s.mu.Unlock()
		err = s.write(batch)
		putBuffer(batch)
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
	s.turn.Broadcast()
	s.mu.Unlock()
	if failed {
		s.fail(err)
	}
}

// take hands the queued frames to the writer.
func (s *sender) take() []byte {
	b := s.queued
	s.queued = nil
	if b == nil {
		b = getBuffer()
	}
	return b
}

func (s *sender) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	_, err := s.out.Write(p)
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
	s.turn.Broadcast()
	s.mu.Unlock()
}

// Batch buffers are shared by all sessions: only one that is writing
// holds one, so thousands of idle sessions hold none. Buffers that grew
// large under load are left to the collector rather than kept.
const (
	bufferSize    = 16 << 10
	maxKeptBuffer = 64 << 10
)

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, bufferSize); return &b }}

func getBuffer() []byte { return (*buffers.Get().(*[]byte))[:0] }

func putBuffer(b []byte) {
	if b == nil || cap(b) > maxKeptBuffer {
		return
	}
	b = b[:0]
	buffers.Put(&b)
}
