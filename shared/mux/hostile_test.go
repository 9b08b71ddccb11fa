package mux

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func frame(typ uint8, flags uint16, id, length uint32, body ...byte) []byte {
	h := makeHeader(typ, flags, id, length)
	return append(h[:], body...)
}

// hostilePeer writes raw bytes to a server session, keeps reading what it
// answers, and returns the session; then hangs up if hangUp.
func hostilePeer(t *testing.T, hangUp bool, raw ...[]byte) *Session {
	t.Helper()
	a, b := net.Pipe()
	s := Server(b, Config{})
	t.Cleanup(func() { s.Close(); a.Close() })
	go io.Copy(io.Discard, a)
	go func() {
		for _, p := range raw {
			if _, err := a.Write(p); err != nil {
				return
			}
		}
		if hangUp {
			a.Close()
		}
	}()
	return s
}

// A peer that breaks the protocol ends the session with a clear error;
// frames that are merely late (for a stream already gone) are dropped.
func TestAPeerThatBreaksTheProtocolEndsTheSession(t *testing.T) {
	tests := []struct {
		name string
		raw  [][]byte
		want error // nil: the session stays up
	}{
		{"unknown version", [][]byte{{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}}, ErrProtocol},
		{"unknown type", [][]byte{frame(9, 0, 0, 0)}, ErrProtocol},
		{"a stream id of ours", [][]byte{frame(typeWindowUpdate, flagSYN, 2, 0)}, ErrProtocol},
		{"stream id 0", [][]byte{frame(typeWindowUpdate, flagSYN, 0, 0)}, ErrProtocol},
		{"opened twice", [][]byte{frame(typeWindowUpdate, flagSYN, 1, 0), frame(typeWindowUpdate, flagSYN, 1, 0)}, ErrProtocol},
		{"more than the window", [][]byte{frame(typeWindowUpdate, flagSYN, 1, 0), frame(typeData, 0, 1, initialWindow+1), make([]byte, initialWindow+1)}, ErrProtocol},
		{"a length of 4 GiB", [][]byte{frame(typeWindowUpdate, flagSYN, 1, 0), frame(typeData, 0, 1, 1<<32-1)}, ErrProtocol},
		{"ends inside a header", [][]byte{{0, 0, 0}}, io.ErrUnexpectedEOF},
		{"data for a stream never opened", [][]byte{frame(typeData, 0, 7, 3, 'a', 'b', 'c')}, nil},
		{"a pong nobody asked for", [][]byte{frame(typePing, flagACK, 0, 99)}, nil},
		{"reset and close of unknown streams", [][]byte{frame(typeWindowUpdate, flagRST, 5, 0), frame(typeWindowUpdate, flagFIN, 9, 0)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == nil {
				// The stream opened after the frames is accepted: the
				// session read past them and is up.
				s := hostilePeer(t, false, append(tt.raw, frame(typeWindowUpdate, flagSYN, 11, 0))...)
				st, err := s.Accept()
				if err != nil || st.StreamID() != 11 {
					t.Fatalf("accept after the frames = %v, %v; want stream 11", st, err)
				}
				return
			}
			s := hostilePeer(t, tt.want == io.ErrUnexpectedEOF, tt.raw...)
			select {
			case <-s.CloseChan():
			case <-time.After(waitTimeout):
				t.Fatal("the session stayed up")
			}
			if tt.want == ErrProtocol && !errors.Is(s.Err(), ErrProtocol) {
				t.Errorf("session error %v, want a protocol error", s.Err())
			}
		})
	}
}

// FuzzSession feeds a server session whatever bytes a hostile peer may
// send: it must not panic, and it ends or carries on.
func FuzzSession(f *testing.F) {
	f.Add(frame(typeWindowUpdate, flagSYN, 1, 0))
	f.Add(bytes.Join([][]byte{frame(typeWindowUpdate, flagSYN, 1, 0), frame(typeData, flagFIN, 1, 2, 'h', 'i')}, nil))
	f.Add(frame(typePing, flagSYN, 0, 1))
	f.Add(frame(typeGoAway, 0, 0, goAwayProtoErr))
	f.Add(frame(typeData, flagRST, 3, 0))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, b := net.Pipe()
		s := Server(b, Config{AcceptBacklog: 4, CloseTimeout: time.Millisecond})
		go io.Copy(io.Discard, a)
		go func() {
			for {
				st, err := s.Accept()
				if err != nil {
					return
				}
				go func() { io.Copy(io.Discard, st); st.Close() }()
			}
		}()
		a.Write(raw)
		a.Close()
		<-s.CloseChan()
	})
}
