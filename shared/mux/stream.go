package mux

import (
	"bufio"
	"io"
	"net"
	"sync"
	"time"
)

// maxFrameBody is the largest data frame a stream sends: large enough to
// be cheap, small enough that one stream's frame does not hold the
// connection long.
const maxFrameBody = 256 << 10

// segmentSize is the piece received data is read into from the
// connection; large frames are read a segment at a time, so the reader
// has the first bytes before the last arrive.
const segmentSize = 32 << 10

var segments = sync.Pool{New: func() any { b := make([]byte, segmentSize); return &b }}

// Stream is one stream of a session, a net.Conn.
type Stream struct {
	sess *Session
	id   uint32

	writeMu sync.Mutex // one Write at a time: its frames stay in order

	mu           sync.Mutex
	segs         [][]byte // received, unread; segs[0][off:] is next
	off          int
	buffered     uint32 // bytes in segs
	recvWindow   uint32 // how much more the peer may send now
	maxWindow    uint32
	sendWindow   uint32 // how much more we may send now
	localClosed  bool
	remoteClosed bool  // the peer sent FIN: reads end at EOF
	reset        error // ErrStreamReset, or why the session went down
	readDeadline time.Time
	writeDeadl   time.Time
	closeTimer   *time.Timer

	readable chan struct{} // a token when data, EOF, a reset or a new deadline came
	writable chan struct{} // a token when the window grew, a reset or a new deadline came
}

func newStream(s *Session, id, recvWindow uint32) *Stream {
	return &Stream{
		sess:       s,
		id:         id,
		recvWindow: recvWindow,
		maxWindow:  s.cfg.Window,
		sendWindow: initialWindow,
		readable:   make(chan struct{}, 1),
		writable:   make(chan struct{}, 1),
	}
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Read reads what the peer sent; io.EOF once it closed its side and
// everything was read.
func (st *Stream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		st.mu.Lock()
		if st.buffered > 0 {
			n := st.take(p)
			update := st.windowUpdate()
			st.mu.Unlock()
			if update > 0 {
				// An error here is the session's; the next Read says so.
				st.sess.send.send(makeHeader(typeWindowUpdate, 0, st.id, update), nil)
			}
			return n, nil
		}
		var err error
		switch {
		case st.reset != nil:
			err = st.reset
		case st.remoteClosed:
			err = io.EOF
		case st.localClosed:
			err = ErrStreamClosed
		}
		deadline := st.readDeadline
		st.mu.Unlock()
		if err != nil {
			return 0, err
		}
		if err := st.wait(st.readable, deadline); err != nil {
			return 0, err
		}
	}
}

// take copies buffered bytes into p; st.mu is held.
func (st *Stream) take(p []byte) int {
	n := 0
	for n < len(p) && len(st.segs) > 0 {
		c := copy(p[n:], st.segs[0][st.off:])
		n += c
		st.off += c
		if st.off == len(st.segs[0]) {
			putSegment(st.segs[0])
			st.segs[0] = nil
			st.segs = st.segs[1:]
			st.off = 0
		}
	}
	if len(st.segs) == 0 {
		st.segs = nil
	}
	st.buffered -= uint32(n)
	return n
}

// windowUpdate is how much to widen the peer's window after a read, or 0
// while too little was read to be worth a frame; st.mu is held.
func (st *Stream) windowUpdate() uint32 {
	if st.buffered+st.recvWindow >= st.maxWindow {
		return 0
	}
	delta := st.maxWindow - st.buffered - st.recvWindow
	if delta < st.maxWindow/2 {
		return 0
	}
	st.recvWindow += delta
	return delta
}

// receive reads a data frame's body from r into the stream, from the
// session's receive loop.
func (st *Stream) receive(n uint32, r *bufio.Reader) error {
	st.mu.Lock()
	if n > st.recvWindow {
		st.mu.Unlock()
		return st.sess.protocolError("stream %d sent %d bytes with a window of %d", st.id, n, st.recvWindow)
	}
	st.recvWindow -= n
	discard := st.localClosed || st.reset != nil
	st.mu.Unlock()
	if discard {
		_, err := r.Discard(int(n))
		return err
	}
	for n > 0 {
		var seg []byte
		if n >= segmentSize {
			seg = getSegment()
		} else {
			seg = make([]byte, n)
		}
		c := min(n, uint32(len(seg)))
		if _, err := io.ReadFull(r, seg[:c]); err != nil {
			return err
		}
		n -= c
		st.mu.Lock()
		st.segs = append(st.segs, seg[:c])
		st.buffered += c
		st.mu.Unlock()
		notify(st.readable)
	}
	return nil
}

func getSegment() []byte { return *segments.Get().(*[]byte) }

func putSegment(b []byte) {
	if cap(b) == segmentSize {
		b = b[:segmentSize]
		segments.Put(&b)
	}
}

// grow widens the send window by a peer's window update.
func (st *Stream) grow(delta uint32) {
	if delta == 0 {
		return
	}
	st.mu.Lock()
	st.sendWindow += delta
	st.mu.Unlock()
	notify(st.writable)
}

// flagsFromPeer handles the flags of a frame from the peer.
func (st *Stream) flagsFromPeer(flags uint16) {
	if flags&(flagFIN|flagRST) == 0 {
		return
	}
	st.mu.Lock()
	done := false
	if flags&flagRST != 0 {
		if st.reset == nil {
			st.reset = ErrStreamReset
		}
		st.release()
		done = true
	}
	if flags&flagFIN != 0 {
		st.remoteClosed = true
		done = done || st.localClosed
	}
	if done && st.closeTimer != nil {
		st.closeTimer.Stop()
	}
	st.mu.Unlock()
	if done {
		st.sess.forget(st.id)
	}
	notify(st.readable)
	notify(st.writable)
}

// release drops buffered data; st.mu is held.
func (st *Stream) release() {
	for _, s := range st.segs {
		putSegment(s)
	}
	st.segs, st.off, st.buffered = nil, 0, 0
}

// sessionDown ends the stream with the session.
func (st *Stream) sessionDown() {
	st.mu.Lock()
	if st.reset == nil {
		st.reset = ErrSessionClosed
	}
	if st.closeTimer != nil {
		st.closeTimer.Stop()
	}
	st.mu.Unlock()
	notify(st.readable)
	notify(st.writable)
}

// Write sends p, as fast as the peer's window allows.
func (st *Stream) Write(p []byte) (int, error) {
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	written := 0
	for len(p) > 0 {
		st.mu.Lock()
		var err error
		switch {
		case st.reset != nil:
			err = st.reset
		case st.localClosed:
			err = ErrStreamClosed
		}
		if err != nil || st.sendWindow == 0 {
			deadline := st.writeDeadl
			st.mu.Unlock()
			if err == nil {
				err = st.wait(st.writable, deadline)
			}
			if err != nil {
				return written, err
			}
			continue
		}
		n := uint32(min(len(p), int(st.sendWindow), maxFrameBody))
		st.sendWindow -= n
		st.mu.Unlock()
		if err := st.sess.send.send(makeHeader(typeData, 0, st.id, n), p[:n]); err != nil {
			return written, err
		}
		written += int(n)
		p = p[n:]
	}
	return written, nil
}

// wait waits for a token on c, the session's end, or the deadline.
func (st *Stream) wait(c chan struct{}, deadline time.Time) error {
	if deadline.IsZero() {
		select {
		case <-c:
		case <-st.sess.closed:
		}
		return nil
	}
	d := time.Until(deadline)
	if d <= 0 {
		return timeoutError{}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c:
	case <-st.sess.closed:
	case <-t.C:
		return timeoutError{}
	}
	return nil
}

// Close closes the stream on this side: the peer reads EOF. A peer that
// does not close its side within the session's CloseTimeout is reset.
func (st *Stream) Close() error {
	st.mu.Lock()
	if st.localClosed || st.reset != nil {
		st.localClosed = true
		st.mu.Unlock()
		return nil
	}
	st.localClosed = true
	st.release()
	done := st.remoteClosed
	if !done {
		st.closeTimer = time.AfterFunc(st.sess.cfg.CloseTimeout, st.resetNow)
	}
	st.mu.Unlock()
	notify(st.readable)
	notify(st.writable)
	err := st.sess.send.send(makeHeader(typeWindowUpdate, flagFIN, st.id, 0), nil)
	if done {
		st.sess.forget(st.id)
	}
	return err
}

// resetNow resets a stream whose peer did not close its side in time.
func (st *Stream) resetNow() {
	st.mu.Lock()
	if st.reset != nil {
		st.mu.Unlock()
		return
	}
	st.reset = ErrStreamReset
	st.mu.Unlock()
	st.sess.forget(st.id)
	st.sess.send.sendControl(makeHeader(typeWindowUpdate, flagRST, st.id, 0))
}

// SetDeadline sets both deadlines.
func (st *Stream) SetDeadline(t time.Time) error {
	st.SetReadDeadline(t)
	return st.SetWriteDeadline(t)
}

// SetReadDeadline makes a Read waiting past t fail with a timeout; a
// waiting Read sees the new deadline at once.
func (st *Stream) SetReadDeadline(t time.Time) error {
	st.mu.Lock()
	st.readDeadline = t
	st.mu.Unlock()
	notify(st.readable)
	return nil
}

// SetWriteDeadline makes a Write waiting for the peer's window past t
// fail with a timeout.
func (st *Stream) SetWriteDeadline(t time.Time) error {
	st.mu.Lock()
	st.writeDeadl = t
	st.mu.Unlock()
	notify(st.writable)
	return nil
}

// StreamID is the stream's number in the session.
func (st *Stream) StreamID() uint32 { return st.id }

// LocalAddr and RemoteAddr are the session's.
func (st *Stream) LocalAddr() net.Addr  { return st.sess.LocalAddr() }
func (st *Stream) RemoteAddr() net.Addr { return st.sess.RemoteAddr() }

var _ net.Conn = (*Stream)(nil)
