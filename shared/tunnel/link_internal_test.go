package tunnel

import (
	"testing"
	"time"
)

func TestHeardSince(t *testing.T) {
	var c wsNetConn
	before := time.Now()
	if c.heardSince(before) {
		t.Fatal("heard from a peer that sent nothing")
	}
	c.lastRead.Store(time.Now().Add(time.Millisecond).UnixNano())
	if !c.heardSince(before) {
		t.Fatal("bytes after the ping were not counted as a sign of life")
	}
}
