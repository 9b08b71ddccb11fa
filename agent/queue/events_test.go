package queue

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEveryOrderChangeIsAnEvent(t *testing.T) {
	q, _ := newQueue(t, Options{})
	o := mustEnqueue(t, q, "s")
	mustUpdate(t, q, o.ID, toStage(StageSending))
	mustUpdate(t, q, o.ID, toStage(StageComplete))
	status, err := q.AppendEvent(EventMachineStatus, map[string]any{"status": "online", "ink": 3})
	if err != nil {
		t.Fatal(err)
	}

	evs, err := q.EventsAfter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantStages := []Stage{StageQueued, StageSending, StageComplete}
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4: %+v", len(evs), evs)
	}
	for i, stage := range wantStages {
		ev := evs[i]
		var got Order
		if err := json.Unmarshal(ev.Data, &got); err != nil {
			t.Fatalf("event %d data: %v", ev.ID, err)
		}
		if ev.ID != uint64(i+1) || ev.Type != EventOrderUpdate || ev.OrderID != o.ID || ev.SessionID != "s" || got.Stage != stage {
			t.Errorf("event %d = %+v (stage %s), want orderUpdate %s at stage %s", i, ev, got.Stage, o.ID, stage)
		}
	}
	if got := evs[0]; !strings.Contains(string(got.Data), `"queuePosition":1`) {
		t.Errorf("the enqueue event carries no position: %s", got.Data)
	}
	if ev := evs[3]; ev.ID != status.ID || ev.Type != EventMachineStatus || string(ev.Data) != `{"ink":3,"status":"online"}` {
		t.Errorf("machine status event = %+v", ev)
	}
}

func TestEventsAfterResumes(t *testing.T) {
	q, _ := newQueue(t, Options{})
	for i := range 10 {
		if _, err := q.AppendEvent(EventMachineStatus, i); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		after          uint64
		limit          int
		wantFirst, len int
	}{
		{after: 0, limit: 0, wantFirst: 1, len: 10},
		{after: 4, limit: 0, wantFirst: 5, len: 6},
		{after: 4, limit: 3, wantFirst: 5, len: 3},
		{after: 10, limit: 0, len: 0},
		{after: 1 << 40, limit: 0, len: 0},
		{after: ^uint64(0), limit: 5, len: 0},
	}
	for _, tt := range tests {
		evs, err := q.EventsAfter(tt.after, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != tt.len || (tt.len > 0 && evs[0].ID != uint64(tt.wantFirst)) {
			t.Errorf("EventsAfter(%d, %d): %d events from %v, want %d from %d", tt.after, tt.limit, len(evs), firstID(evs), tt.len, tt.wantFirst)
		}
		for i := 1; i < len(evs); i++ {
			if evs[i].ID != evs[i-1].ID+1 {
				t.Errorf("EventsAfter(%d, %d): ids not consecutive: %d then %d", tt.after, tt.limit, evs[i-1].ID, evs[i].ID)
			}
		}
	}
}

func firstID(evs []Event) any {
	if len(evs) == 0 {
		return "none"
	}
	return evs[0].ID
}

func TestEventLogKeepsTheNewest(t *testing.T) {
	q, _ := newQueue(t, Options{KeepEvents: 5})
	for i := range 12 {
		if _, err := q.AppendEvent(EventMachineStatus, i); err != nil {
			t.Fatal(err)
		}
	}
	evs, _ := q.EventsAfter(0, 0)
	if len(evs) != 5 || evs[0].ID != 8 || evs[4].ID != 12 {
		t.Fatalf("kept %d events from %v, want 5: 8..12", len(evs), firstID(evs))
	}
	oldest, _ := q.OldestEventID()
	last, _ := q.LastEventID()
	if oldest != 8 || last != 12 {
		t.Errorf("OldestEventID %d LastEventID %d, want 8 and 12", oldest, last)
	}
	// A client that last saw event 3 can tell it missed 4..7.
	evs, _ = q.EventsAfter(3, 0)
	if evs[0].ID == 4 {
		t.Error("resuming from a pruned id looks complete")
	}

	// A smaller KeepEvents on the next open prunes down on the next append.
	q.opt.KeepEvents = 2
	if _, err := q.AppendEvent(EventMachineStatus, "x"); err != nil {
		t.Fatal(err)
	}
	if evs, _ := q.EventsAfter(0, 0); len(evs) != 2 || evs[0].ID != 12 {
		t.Errorf("after shrinking KeepEvents: %d events from %v, want 12, 13", len(evs), firstID(evs))
	}
	mustVerify(t, q)
}

func TestEmptyEventLog(t *testing.T) {
	q, _ := newQueue(t, Options{})
	oldest, err1 := q.OldestEventID()
	last, err2 := q.LastEventID()
	evs, err3 := q.EventsAfter(0, 10)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if oldest != 0 || last != 0 || len(evs) != 0 {
		t.Errorf("empty log: oldest %d last %d events %d", oldest, last, len(evs))
	}
}

func TestAppendEventRejectsBadInput(t *testing.T) {
	q, _ := newQueue(t, Options{})
	tests := []struct {
		name string
		typ  string
		data any
	}{
		{"no type", "", 1},
		{"huge type", strings.Repeat("t", 65), 1},
		{"unencodable data", EventMachineStatus, func() {}},
		{"oversized data", EventMachineStatus, strings.Repeat("d", maxEventData)},
	}
	for _, tt := range tests {
		if _, err := q.AppendEvent(tt.typ, tt.data); err == nil {
			t.Errorf("%s: AppendEvent accepted it", tt.name)
		}
	}
	if last := lastEventID(t, q); last != 0 {
		t.Errorf("rejected events were appended: last id %d", last)
	}
}

func TestSubscribeWakesAfterCommit(t *testing.T) {
	q, _ := newQueue(t, Options{})
	wake, cancel := q.Subscribe()

	// Whoever wakes must already see the change.
	seen := make(chan int)
	go func() {
		for range wake {
			p, err := q.Pending()
			if err != nil {
				t.Error(err)
			}
			seen <- len(p)
		}
		close(seen)
	}()
	mustEnqueue(t, q, "s")
	select {
	case n := <-seen:
		if n != 1 {
			t.Errorf("woken subscriber sees %d orders, want 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscriber not woken")
	}
	cancel()
	cancel() // idempotent
	select {
	case _, open := <-seen:
		if open {
			t.Error("extra wake-up after cancel")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not close the channel")
	}
}

func TestSubscribeCoalesces(t *testing.T) {
	q, _ := newQueue(t, Options{})
	wake, cancel := q.Subscribe()
	defer cancel()
	for range 5 {
		mustEnqueue(t, q, "s") // never blocks on the idle subscriber
	}
	<-wake
	select {
	case <-wake:
		t.Error("five commits queued more than one wake-up")
	default:
	}
}

func TestParseEventID(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"42", 42, true},
		{"18446744073709551615", 1<<64 - 1, true},
		{"18446744073709551616", 0, false},
		{"", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{strings.Repeat("9", 1000), 0, false},
	}
	for _, tt := range tests {
		got, err := ParseEventID(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseEventID(%.30q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
