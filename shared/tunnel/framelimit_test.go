package tunnel

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOversizedFrameClosesTheTunnelAtOnce: a frame header declaring more
// than the largest message ends the tunnel as soon as it is read, not two
// keepalive intervals later, and says why.
func TestOversizedFrameClosesTheTunnelAtOnce(t *testing.T) {
	const promise = 2 * time.Second // the keepalive (10 s) would take 20 s
	f := newFleet(t)
	relay := startRelay(t, f.authenticator(), AcceptOptions{})
	token := f.token(t, "CT0700026")

	tests := []struct {
		name   string
		length uint64
	}{
		{"2^40 bytes", 1 << 40},
		{"2^63 bytes (negative as int64)", 1 << 63},
		{"one byte over the largest message", maxMessageLen + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", relay.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, "GET "+ConnectPath+" HTTP/1.1\r\nHost: relay\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
				"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+
				"Authorization: Bearer "+token+"\r\n"+HeaderMachine+": CT0700026\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("handshake: %v %v", resp, err)
			}
			conn := relay.nextConn(t)

			// A binary frame, final, masked, with a 64-bit length, and
			// then nothing.
			header := []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
			binary.BigEndian.PutUint64(header[2:10], tt.length)
			sent := time.Now()
			c.Write(header)

			select {
			case <-conn.Done():
				t.Logf("tunnel closed %v after the header: %v", time.Since(sent).Round(time.Millisecond), conn.Err())
			case <-time.After(promise):
				t.Fatalf("the tunnel is still up %v after a frame header declaring %d bytes", promise, tt.length)
			}
			if err := conn.Err(); err == nil || !strings.Contains(err.Error(), "frame header declares") {
				t.Errorf("Err = %v, want it to name the oversized frame", err)
			}
			c.SetReadDeadline(time.Now().Add(promise))
			if _, err := io.Copy(io.Discard, br); err != nil {
				t.Errorf("the connection was not closed: %v", err)
			}
		})
	}
}
