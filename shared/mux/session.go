package mux

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Config is how one end runs its session.
type Config struct {
	// Window is the most of each stream this end lets be in flight to it:
	// how much a slow reader makes the peer buffer. At least 256 KiB, the
	// protocol's starting window (the default).
	Window uint32
	// CloseTimeout is how long a stream closed here waits for the peer to
	// close its side before it is reset (default 5 minutes, as yamux).
	CloseTimeout time.Duration
	// AcceptBacklog is how many streams the peer may open that Accept has
	// not taken yet; more are reset (default 256).
	AcceptBacklog int
	// Logger gets the peer's protocol errors, at debug level.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	c.Window = max(c.Window, initialWindow)
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = 5 * time.Minute
	}
	if c.AcceptBacklog <= 0 {
		c.AcceptBacklog = 256
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Session is one end of a multiplexed connection.
type Session struct {
	cfg  Config
	conn io.ReadWriteCloser
	send *sender

	mu       sync.Mutex
	streams  map[uint32]*Stream
	nextID   uint32 // of the next stream this end opens: odd for clients, even for servers
	parity   uint32 // nextID%2, for reading without the lock
	goneAway bool   // the peer takes no new streams
	pings    map[uint32]chan struct{}
	pingID   uint32
	err      error // why the session went down

	accept    chan *Stream
	closed    chan struct{}
	closeOnce sync.Once
}

// Client starts the session of the end that dialled (its streams are
// odd); Server the other (even).
func Client(conn io.ReadWriteCloser, cfg Config) *Session { return newSession(conn, cfg, 1) }

// Server: see Client.
func Server(conn io.ReadWriteCloser, cfg Config) *Session { return newSession(conn, cfg, 2) }

func newSession(conn io.ReadWriteCloser, cfg Config, firstID uint32) *Session {
	cfg = cfg.withDefaults()
	s := &Session{
		cfg:     cfg,
		conn:    conn,
		streams: make(map[uint32]*Stream),
		nextID:  firstID,
		parity:  firstID % 2,
		pings:   make(map[uint32]chan struct{}),
		accept:  make(chan *Stream, cfg.AcceptBacklog),
		closed:  make(chan struct{}),
	}
	s.send = newSender(conn, func(err error) { s.closeWith(fmt.Errorf("write: %w", err)) })
	go s.receive()
	return s
}

// Open opens a stream to the peer. It does not wait for the peer to
// accept it: what is written meanwhile waits at the peer.
func (s *Session) Open() (*Stream, error) {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", ErrSessionClosed, err)
	}
	if s.goneAway {
		s.mu.Unlock()
		return nil, ErrRemoteGoAway
	}
	id := s.nextID
	s.nextID += 2
	st := newStream(s, id, s.cfg.Window)
	s.streams[id] = st
	s.mu.Unlock()
	if err := s.send.send(makeHeader(typeWindowUpdate, flagSYN, id, s.cfg.Window-initialWindow), nil); err != nil {
		s.forget(id)
		return nil, fmt.Errorf("%w: %w", ErrSessionClosed, err)
	}
	return st, nil
}

// Accept waits for a stream the peer opens.
func (s *Session) Accept() (*Stream, error) {
	select {
	case st := <-s.accept:
		// The acknowledgement widens the window from the protocol's start
		// to ours (counted first: the peer may use it at once).
		st.mu.Lock()
		st.recvWindow += s.cfg.Window - initialWindow
		st.mu.Unlock()
		if err := s.send.send(makeHeader(typeWindowUpdate, flagACK, st.id, s.cfg.Window-initialWindow), nil); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSessionClosed, err)
		}
		return st, nil
	case <-s.closed:
		return nil, fmt.Errorf("%w: %w", ErrSessionClosed, s.Err())
	}
}

// Ping sends a ping and waits for its answer, or for the session to end.
func (s *Session) Ping() (time.Duration, error) {
	answered := make(chan struct{})
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return 0, fmt.Errorf("%w: %w", ErrSessionClosed, err)
	}
	s.pingID++
	id := s.pingID
	s.pings[id] = answered
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pings, id)
		s.mu.Unlock()
	}()
	start := time.Now()
	if err := s.send.send(makeHeader(typePing, flagSYN, 0, id), nil); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrSessionClosed, err)
	}
	select {
	case <-answered:
		return time.Since(start), nil
	case <-s.closed:
		return 0, fmt.Errorf("%w: %w", ErrSessionClosed, s.Err())
	}
}

// Close ends the session and every stream in it.
func (s *Session) Close() error {
	s.closeWith(ErrSessionClosed)
	return nil
}

// IsClosed reports whether the session is down.
func (s *Session) IsClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// CloseChan is closed once the session is down.
func (s *Session) CloseChan() <-chan struct{} { return s.closed }

// Err is why the session went down, or nil while it is up.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// NumStreams is how many streams are open, for tests and metrics.
func (s *Session) NumStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// Addr is the connection's local address, when it has one.
func (s *Session) Addr() net.Addr { return s.LocalAddr() }

// LocalAddr and RemoteAddr are the connection's, or placeholders.
func (s *Session) LocalAddr() net.Addr {
	if a, ok := s.conn.(interface{ LocalAddr() net.Addr }); ok {
		return a.LocalAddr()
	}
	return muxAddr{}
}

func (s *Session) RemoteAddr() net.Addr {
	if a, ok := s.conn.(interface{ RemoteAddr() net.Addr }); ok {
		return a.RemoteAddr()
	}
	return muxAddr{}
}

type muxAddr struct{}

func (muxAddr) Network() string { return "mux" }
func (muxAddr) String() string  { return "mux" }

func (s *Session) closeWith(err error) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.err = err
		streams := s.streams
		s.streams = map[uint32]*Stream{}
		s.mu.Unlock()
		close(s.closed)
		s.send.close(ErrSessionClosed)
		s.conn.Close()
		for _, st := range streams {
			st.sessionDown()
		}
	})
}

// protocolError tells the peer (if it still reads) and ends the session.
func (s *Session) protocolError(format string, args ...any) error {
	err := fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
	s.cfg.Logger.Debug("mux: peer broke the protocol", "err", err)
	s.send.sendControl(makeHeader(typeGoAway, 0, 0, goAwayProtoErr))
	return err
}

func (s *Session) forget(id uint32) {
	s.mu.Lock()
	delete(s.streams, id)
	s.mu.Unlock()
}

// receive reads frames until the connection ends or the peer breaks the
// protocol, then takes the session down.
func (s *Session) receive() {
	err := s.receiveLoop(bufio.NewReaderSize(s.conn, 4<<10))
	s.closeWith(err)
}

func (s *Session) receiveLoop(r *bufio.Reader) error {
	var h header
	for {
		if _, err := io.ReadFull(r, h[:]); err != nil {
			if err == io.ErrUnexpectedEOF {
				return fmt.Errorf("read: connection ended inside a frame header")
			}
			return fmt.Errorf("read: %w", err)
		}
		if h.version() != protoVersion {
			return s.protocolError("version %d", h.version())
		}
		var err error
		switch h.typ() {
		case typeData, typeWindowUpdate:
			err = s.streamFrame(h, r)
		case typePing:
			s.pingFrame(h)
		case typeGoAway:
			s.mu.Lock()
			s.goneAway = true
			s.mu.Unlock()
			if h.length() != goAwayNormal {
				s.cfg.Logger.Debug("mux: the peer goes away with an error", "code", h.length())
			}
		default:
			err = s.protocolError("frame type %d", h.typ())
		}
		if err != nil {
			return err
		}
	}
}

func (s *Session) pingFrame(h header) {
	switch {
	case h.flags()&flagSYN != 0:
		s.send.sendControl(makeHeader(typePing, flagACK, 0, h.length()))
	case h.flags()&flagACK != 0:
		s.mu.Lock()
		if c, ok := s.pings[h.length()]; ok {
			close(c)
			delete(s.pings, h.length())
		}
		s.mu.Unlock()
	}
}

// streamFrame handles a data frame or a window update.
func (s *Session) streamFrame(h header, r *bufio.Reader) error {
	id, flags := h.stream(), h.flags()
	if flags&flagSYN != 0 {
		if err := s.incoming(id); err != nil {
			return err
		}
	}
	s.mu.Lock()
	st := s.streams[id]
	s.mu.Unlock()
	if st == nil {
		// A stream closed or reset here: what is still on its way is
		// nobody's.
		if h.typ() == typeData {
			if _, err := r.Discard(int(h.length())); err != nil {
				return fmt.Errorf("read: %w", err)
			}
		}
		return nil
	}
	if h.typ() == typeWindowUpdate {
		st.grow(h.length())
	} else if err := st.receive(h.length(), r); err != nil {
		return err
	}
	st.flagsFromPeer(flags)
	return nil
}

// incoming registers a stream the peer opens.
func (s *Session) incoming(id uint32) error {
	if id == 0 || id%2 == s.parity {
		return s.protocolError("the peer opened stream %d, an id of ours", id)
	}
	s.mu.Lock()
	if _, dup := s.streams[id]; dup {
		s.mu.Unlock()
		return s.protocolError("the peer opened stream %d twice", id)
	}
	if s.err != nil {
		s.mu.Unlock()
		return nil
	}
	st := newStream(s, id, initialWindow)
	s.streams[id] = st
	s.mu.Unlock()
	select {
	case s.accept <- st:
	default:
		s.cfg.Logger.Debug("mux: accept backlog full, stream reset", "stream", id)
		s.forget(id)
		s.send.sendControl(makeHeader(typeWindowUpdate, flagRST, id, 0))
	}
	return nil
}
