package mux

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
)

const waitTimeout = 10 * time.Second

// pair is a client and a server session over an in-memory connection.
func pair(t *testing.T, cfg Config) (client, server *Session) {
	t.Helper()
	a, b := net.Pipe()
	client, server = Client(a, cfg), Server(b, cfg)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// peer is either end's way of opening and accepting streams: this
// package's, or hashicorp/yamux's (every earlier version of casefleet).
type peer interface {
	Open() (net.Conn, error)
	Accept() (net.Conn, error)
	Close() error
}

type ours struct{ *Session }

func (o ours) Open() (net.Conn, error)   { return o.Session.Open() }
func (o ours) Accept() (net.Conn, error) { return o.Session.Accept() }

func yamuxConfig(window uint32) *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.EnableKeepAlive = false
	cfg.MaxStreamWindowSize = window
	cfg.LogOutput = io.Discard
	return cfg
}

// ends are the pairings of this package and hashicorp/yamux, with this
// package's window of 1 MiB and yamux's of 256 KiB (its default) or 1 MiB.
func ends(t *testing.T) map[string]func(t *testing.T) (client, server peer) {
	cfg := Config{Window: 1 << 20}
	return map[string]func(t *testing.T) (peer, peer){
		"mux to mux": func(t *testing.T) (peer, peer) {
			c, s := pair(t, cfg)
			return ours{c}, ours{s}
		},
		"mux client, yamux server (256 KiB)": func(t *testing.T) (peer, peer) {
			a, b := net.Pipe()
			c := Client(a, cfg)
			s, _ := yamux.Server(b, yamuxConfig(256<<10))
			t.Cleanup(func() { c.Close(); s.Close() })
			return ours{c}, s
		},
		"yamux client (1 MiB), mux server": func(t *testing.T) (peer, peer) {
			a, b := net.Pipe()
			c, _ := yamux.Client(a, yamuxConfig(1<<20))
			s := Server(b, cfg)
			t.Cleanup(func() { c.Close(); s.Close() })
			return c, ours{s}
		},
	}
}

// echo serves every stream the server accepts by sending back what it
// reads, then closing.
func echo(server peer) {
	for {
		s, err := server.Accept()
		if err != nil {
			return
		}
		go func() {
			io.Copy(s, s)
			s.Close()
		}()
	}
}

// Streams opened by either end carry bytes both ways, in order, however
// large, with this package or hashicorp/yamux at the other end: windows,
// acknowledgements and closes mean the same to both.
func TestStreamsCarryBytesBothWaysWithEitherPeer(t *testing.T) {
	for name, ends := range ends(t) {
		t.Run(name, func(t *testing.T) {
			client, server := ends(t)
			go echo(server)
			var wg sync.WaitGroup
			for _, size := range []int{0, 1, 300, 64 << 10, 3 << 20} {
				for range 3 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := roundTrip(client, size); err != nil {
							t.Errorf("%d bytes: %v", size, err)
						}
					}()
				}
			}
			wg.Wait()
		})
	}
}

// roundTrip sends size random bytes on a new stream and checks that the
// same come back, then EOF.
func roundTrip(p peer, size int) error {
	s, err := p.Open()
	if err != nil {
		return err
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(waitTimeout))
	sent := make([]byte, size)
	rand.Read(sent)
	writeErr := make(chan error, 1)
	go func() {
		_, err := s.Write(sent)
		writeErr <- err
	}()
	got := make([]byte, 0, size)
	buf := make([]byte, 20<<10)
	for len(got) < size {
		n, err := s.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return err
		}
	}
	if err := <-writeErr; err != nil {
		return err
	}
	if !bytes.Equal(got, sent) {
		return errors.New("the bytes that came back differ")
	}
	return nil
}

// A stream closed by the peer reads to EOF after what was sent; one reset
// by the peer fails at once.
func TestCloseReadsEOFAndResetFails(t *testing.T) {
	client, server := pair(t, Config{})
	s, err := client.Open()
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("hello"))
	in, err := server.Accept()
	if err != nil {
		t.Fatal(err)
	}
	in.Close()
	got, err := io.ReadAll(in)
	if !errors.Is(err, ErrStreamClosed) || len(got) != 0 {
		t.Errorf("read after closing here = %q, %v; want ErrStreamClosed", got, err)
	}
	s.SetReadDeadline(time.Now().Add(waitTimeout))
	if got, err := io.ReadAll(s); err != nil || len(got) != 0 {
		t.Errorf("read at the end closed by the peer = %q, %v; want EOF", got, err)
	}

	s2, _ := client.Open()
	s2.Write([]byte("x"))
	in2, _ := server.Accept()
	in2.resetNow()
	s2.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := s2.Read(make([]byte, 1)); !errors.Is(err, ErrStreamReset) {
		t.Errorf("read of a stream the peer reset = %v, want ErrStreamReset", err)
	}
	if _, err := s2.Write([]byte("y")); !errors.Is(err, ErrStreamReset) {
		t.Errorf("write to a stream the peer reset = %v, want ErrStreamReset", err)
	}
}

// A closed stream whose peer never closes its side is reset after
// CloseTimeout, and forgotten on both ends.
func TestAStreamThePeerNeverClosesIsReset(t *testing.T) {
	client, server := pair(t, Config{CloseTimeout: 50 * time.Millisecond})
	s, _ := client.Open()
	s.Write([]byte("x"))
	in, _ := server.Accept()
	s.Close() // the server's end stays open
	deadline := time.Now().Add(waitTimeout)
	for client.NumStreams()+server.NumStreams() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("streams open: client %d, server %d", client.NumStreams(), server.NumStreams())
		}
		time.Sleep(5 * time.Millisecond)
	}
	in.SetReadDeadline(time.Now().Add(waitTimeout))
	io.ReadFull(in, make([]byte, 1))
	if _, err := in.Read(make([]byte, 1)); !errors.Is(err, ErrStreamReset) {
		t.Errorf("the peer's read after the reset = %v, want ErrStreamReset", err)
	}
}

// A writer waits while the peer's window is full and goes on as the
// reader reads; a deadline ends the wait with a timeout, as net/http
// expects of a net.Conn.
func TestWritesWaitForTheWindowAndDeadlinesEndWaits(t *testing.T) {
	client, server := pair(t, Config{})
	s, _ := client.Open()
	s.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	n, err := s.Write(make([]byte, initialWindow+1))
	var ne net.Error
	if n != initialWindow || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("write past the window with nobody reading = %d, %v; want %d and a timeout", n, err, initialWindow)
	}
	in, _ := server.Accept()
	done := make(chan error, 1)
	s.SetWriteDeadline(time.Time{})
	go func() { _, err := s.Write(make([]byte, 1<<20)); done <- err }()
	if _, err := io.ReadFull(in, make([]byte, initialWindow+1<<20)); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("the waiting write: %v", err)
	}

	// A read waiting for data ends as soon as its deadline is moved into
	// the past (net/http does this to abort a background read).
	readErr := make(chan error, 1)
	go func() { _, err := in.Read(make([]byte, 1)); readErr <- err }()
	time.Sleep(10 * time.Millisecond)
	in.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-readErr:
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("read after its deadline moved = %v, want a timeout", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("a waiting read did not see its deadline move")
	}
}

// Streams the peer opens beyond the accept backlog are reset, and the
// session carries on.
func TestStreamsBeyondTheBacklogAreReset(t *testing.T) {
	client, server := pair(t, Config{AcceptBacklog: 2})
	var streams []*Stream
	for range 3 {
		s, err := client.Open()
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	streams[2].SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := streams[2].Read(make([]byte, 1)); !errors.Is(err, ErrStreamReset) {
		t.Errorf("the stream beyond the backlog reads %v, want ErrStreamReset", err)
	}
	for range 2 {
		if _, err := server.Accept(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.Ping(); err != nil {
		t.Errorf("ping after the reset: %v", err)
	}
}

// Ping is answered; once the session is closed every stream and call
// fails with ErrSessionClosed.
func TestPingAndClose(t *testing.T) {
	client, server := pair(t, Config{})
	if _, err := client.Ping(); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if _, err := server.Ping(); err != nil {
		t.Fatalf("ping from the server: %v", err)
	}
	s, _ := client.Open()
	blocked := make(chan error, 1)
	go func() { _, err := s.Read(make([]byte, 1)); blocked <- err }()
	server.Close()
	select {
	case <-client.CloseChan():
	case <-time.After(waitTimeout):
		t.Fatal("the client did not see the session end")
	}
	if err := <-blocked; !errors.Is(err, ErrSessionClosed) {
		t.Errorf("a read waiting when the session ended = %v, want ErrSessionClosed", err)
	}
	if _, err := client.Open(); !errors.Is(err, ErrSessionClosed) {
		t.Errorf("open after the end = %v", err)
	}
	if _, err := client.Ping(); !errors.Is(err, ErrSessionClosed) {
		t.Errorf("ping after the end = %v", err)
	}
	if !client.IsClosed() || client.Err() == nil {
		t.Errorf("IsClosed %v, Err %v after the end", client.IsClosed(), client.Err())
	}
}

// A peer that goes away takes no more streams from us.
func TestGoAwayRefusesNewStreams(t *testing.T) {
	a, b := net.Pipe()
	client := Client(a, Config{})
	defer client.Close()
	y, _ := yamux.Server(b, yamuxConfig(256<<10))
	defer y.Close()
	if err := y.GoAway(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		_, err := client.Open()
		if errors.Is(err, ErrRemoteGoAway) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("open after the peer went away = %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
