package queue

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// crashDBEnv tells the test binary it runs as TestCrashChild's worker.
const crashDBEnv = "CASEFLEET_QUEUE_CRASH_DB"

// ack is what the worker reported committed: an order's Attempts (bumped
// on every transition, so it orders them) and status.
type ack struct {
	attempts int
	status   Status
}

// TestKillNineKeepsAcknowledgedOrders runs a worker process that enqueues
// and moves orders through their stages as a dispatcher would, printing each
// commit as it returns, and kills it with SIGKILL at a random moment. After
// each kill the file must hold every acknowledged order at least in the
// state acknowledged, with its event, and consistent indexes.
func TestKillNineKeepsAcknowledgedOrders(t *testing.T) {
	if testing.Short() {
		t.Skip("runs worker processes")
	}
	path := filepath.Join(t.TempDir(), "agent.db")
	acked := make(map[string]ack)
	for round := range 3 {
		killAfter := 20 + rand.IntN(200)
		n := runAndKillWorker(t, path, killAfter, acked)
		t.Logf("round %d: killed after %d acknowledgements (asked %d)", round, n, killAfter)
		checkAfterCrash(t, path, acked)
	}
}

// runAndKillWorker starts the worker on path, kills it once it has
// acknowledged killAfter commits, and records every acknowledgement it
// printed, including those that arrive after the kill was sent.
func runAndKillWorker(t *testing.T, path string, killAfter int, acked map[string]ack) int {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDBEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		id, a, ok := parseAck(sc.Text())
		if !ok {
			continue
		}
		acked[id] = a
		if n++; n == killAfter {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatalf("kill worker: %v", err)
			}
		}
	}
	err = cmd.Wait()
	if n < killAfter {
		t.Fatalf("worker stopped after %d acknowledgements (%v)", n, err)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Success() {
		t.Fatalf("worker was not killed: %v", err)
	}
	return n
}

func parseAck(line string) (string, ack, bool) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "ack" {
		return "", ack{}, false
	}
	attempts, err := strconv.Atoi(f[2])
	if err != nil {
		return "", ack{}, false
	}
	return f[1], ack{attempts: attempts, status: Status(f[3])}, true
}

func checkAfterCrash(t *testing.T, path string, acked map[string]ack) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := Open(db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustVerify(t, q)

	evs, err := q.EventsAfter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	announced := make(map[ack]map[string]bool)
	for _, ev := range evs {
		var o Order
		if ev.Type != EventOrderUpdate || json.Unmarshal(ev.Data, &o) != nil {
			continue
		}
		a := ack{o.Attempts, o.Status}
		if announced[a] == nil {
			announced[a] = make(map[string]bool)
		}
		announced[a][o.ID] = true
	}

	for id, a := range acked {
		o, err := q.Get(id)
		if err != nil {
			t.Errorf("acknowledged order %s: %v", id, err)
			continue
		}
		// The worker may have committed one more change it had no time to
		// report, never fewer.
		if o.Attempts != a.attempts && o.Attempts != a.attempts+1 {
			t.Errorf("order %s: stored at attempt %d, acknowledged at %d", id, o.Attempts, a.attempts)
		}
		if a.status.Terminal() && o.Status != a.status {
			t.Errorf("order %s: acknowledged %s, stored %s", id, a.status, o.Status)
		}
		if !announced[a][id] {
			t.Errorf("order %s: no event for its acknowledged change (attempt %d, %s)", id, a.attempts, a.status)
		}
	}
	active := 0
	pending, _ := q.Pending()
	for _, o := range pending {
		if !o.Waiting() {
			active++
		}
	}
	if active > 1 {
		t.Errorf("%d orders at the machine after recovery", active)
	}
}

// TestCrashChild is the worker of TestKillNineKeepsAcknowledgedOrders; run
// on its own it skips.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashDBEnv)
	if path == "" {
		t.Skip("worker process of TestKillNineKeepsAcknowledgedOrders")
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	q, err := Open(db, Options{MaxOrders: 5})
	if err != nil {
		t.Fatal(err)
	}
	// Bounded, in case the parent dies without killing us.
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		o, err := dispatchStep(q)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("ack %s %d %s\n", o.ID, o.Attempts, o.Status)
	}
}

// dispatchStep makes one committed change a dispatcher would: move the
// order at the machine along (finish, retry or advance it), or else enqueue
// a new order or hand the head to the machine.
func dispatchStep(q *Queue) (Order, error) {
	active, ok, err := q.Active()
	if err != nil {
		return Order{}, err
	}
	if ok {
		next := map[Stage]Stage{StageSending: StageSent, StageSent: StageAwaitingPayment, StageAwaitingPayment: StagePrinting}[active.Stage]
		switch r := rand.IntN(10); {
		case r == 0 || next == "":
			next = StageComplete
		case r == 1:
			next = StageQueued // retry
		case r == 2:
			next = StageFailed
		}
		return q.Update(active.ID, func(o *Order) error {
			toStage(next)(o)
			o.Attempts++
			return nil
		})
	}
	if rand.IntN(2) == 0 {
		o, err := q.Enqueue(Order{SessionID: fmt.Sprintf("s%d", rand.IntN(4)), PrintFile: NewID()})
		if !errors.Is(err, ErrQueueFull) {
			return o, err
		}
	}
	head, ok, err := q.Head()
	if err != nil {
		return Order{}, err
	}
	if !ok {
		return q.Enqueue(Order{SessionID: "s0"})
	}
	return q.Update(head.ID, func(o *Order) error {
		toStage(StageSending)(o)
		o.Attempts++
		o.VendorOrderID = fmt.Sprintf("V-%s-%d", o.ID, o.Attempts)
		return nil
	})
}
