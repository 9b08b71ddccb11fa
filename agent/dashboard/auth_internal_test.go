package dashboard

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const testPIN = "246810"

func TestClientKeyGroupsAnIPv6Network(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.0.1:5000", "127.0.0.1"},
		{"[2001:db8:1:2:aaaa::1]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:bbbb::9]:80", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.7]:80", "192.0.2.7"},
		{"garbage", "garbage"},
	}
	for _, tt := range tests {
		if got := clientKey(&http.Request{RemoteAddr: tt.addr}); got != tt.want {
			t.Errorf("clientKey(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// FuzzSessionCookie: no cookie value crashes the check, and changing any
// byte of a live session's cookie makes it invalid.
func FuzzSessionCookie(f *testing.F) {
	a := newAuth(testPIN, time.Now)
	valid, _, err := a.newSession()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid, 0, byte('x'))
	f.Add("v1.1.2.3", 3, byte('.'))
	f.Add("", 0, byte(0))
	f.Fuzz(func(t *testing.T, v string, at int, b byte) {
		if a.validSession(v) && v != valid {
			t.Fatalf("accepted a session this agent never started: %q", v)
		}
		if len(valid) == 0 {
			return
		}
		i := (at%len(valid) + len(valid)) % len(valid)
		if valid[i] == b {
			return
		}
		tampered := valid[:i] + string(b) + valid[i+1:]
		if a.validSession(tampered) {
			t.Fatalf("accepted a tampered session %q", tampered)
		}
	})
}

// FuzzBearer: the PIN is taken from a bearer header exactly, and nothing
// else is accepted as one.
func FuzzBearer(f *testing.F) {
	f.Add("Bearer 246810")
	f.Add("bearer   x ")
	f.Add("Basic abc")
	f.Fuzz(func(t *testing.T, h string) {
		pin, ok := bearer(h)
		if !ok {
			return
		}
		if len(h) > 512 || !strings.EqualFold(h[:7], "Bearer ") || pin != strings.TrimSpace(h[7:]) {
			t.Fatalf("bearer(%q) = %q", h, pin)
		}
	})
}
