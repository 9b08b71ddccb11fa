package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Live updates are server-sent events: each "state" event carries the
// whole State. Operators are few and the state is small, so a full state
// per change keeps the page simple and a reconnect needs no replay.
const (
	// streamRefresh re-reads the state even when nothing announced a
	// change: the printer's last contact and the nozzle's "no answer"
	// move with time alone.
	streamRefresh = 5 * time.Second
	// streamPing keeps idle connections open through proxies.
	streamPing         = 20 * time.Second
	streamWriteTimeout = 10 * time.Second
	maxStreams         = 32
)

func (d *Dashboard) stream(w http.ResponseWriter, r *http.Request) error {
	if !d.acquireStream() {
		return &apiError{status: http.StatusServiceUnavailable, code: "busy", msg: "Too many dashboards are open on this kiosk.", retryAfter: 10 * time.Second}
	}
	defer d.releaseStream()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	changes, stop := d.opt.Queue.Subscribe()
	defer stop()
	refresh := time.NewTicker(streamRefresh)
	defer refresh.Stop()

	write := func(s string) error {
		if err := rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if _, err := fmt.Fprint(w, s); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := write("retry: 2000\n\n"); err != nil {
		return nil
	}
	var last []byte
	lastWrite := time.Now()
	for {
		wake := d.changed.wait() // before reading, so no change slips between
		s := d.State()
		at := s.ServerTime
		s.ServerTime = time.Time{}
		key, err := json.Marshal(s)
		if err != nil {
			return nil
		}
		switch {
		case !bytes.Equal(key, last):
			s.ServerTime = at
			b, err := json.Marshal(s)
			if err != nil {
				return nil
			}
			if write("event: state\ndata: "+string(b)+"\n\n") != nil {
				return nil // the client went away
			}
			last, lastWrite = key, time.Now()
		case time.Since(lastWrite) >= streamPing:
			if write(": ping\n\n") != nil {
				return nil
			}
			lastWrite = time.Now()
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-d.done:
			return nil
		case <-changes:
		case <-wake:
		case <-refresh.C:
		}
	}
}

func (d *Dashboard) acquireStream() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.streams >= maxStreams {
		return false
	}
	d.streams++
	return true
}

func (d *Dashboard) releaseStream() {
	d.mu.Lock()
	d.streams--
	d.mu.Unlock()
}
