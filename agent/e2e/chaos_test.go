package e2e

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"go.etcd.io/bbolt"

	"casefleet/agent/agenttest"
	"casefleet/agent/chitu/protocol"
	"casefleet/agent/chitu/sim"
	"casefleet/agent/daemon"
	"casefleet/agent/queue"
)

// The long version: go test ./agent/e2e -run Chaos -chaos.kills=200 -chaos.clean
var (
	chaosKills  = flag.Int("chaos.kills", 30, "TestChaos: how many times the agent is SIGKILLed")
	chaosSeed   = flag.Uint64("chaos.seed", 0, "TestChaos: seed of the kill schedule (0: from the clock; the seed is logged)")
	chaosPhones = flag.Int("chaos.phones", 4, "TestChaos: phones ordering at once")
	chaosClean  = flag.Bool("chaos.clean", false, "TestChaos: also run with chitu.clean_session: true, for comparison")
)

// The hostile platform of issue 9: it answers createOrder half a second
// late (after creating the order, so a kill in between leaves an order the
// agent never heard the id of), the machine fetches the print file 0.6 s
// after the order (often while the agent is down; it retries as a machine
// does), and customers pay and prints finish on their own.
var chaosSimArgs = []string{"--pay-seconds", "0.2", "--print-seconds", "0.5", "--fetch-seconds", "0.6"}

const chaosCreateOrderDelay = 500 * time.Millisecond

// The agent runs with its exactly-once defaults; only its clocks are
// scaled down to the test's (an ambiguous send is of unknown outcome after
// 5 s with no sign instead of 2 min, a paid order with no word after 10 s
// instead of 30 min, a refusal retried after 0.5 s instead of 10 s), so
// that a stuck order holds the line seconds, not minutes.
var chaosAgentEnv = []string{
	"CASEFLEET_QUEUE_RESEND_GRACE=5s",
	"CASEFLEET_QUEUE_INFLIGHT_TIMEOUT=10s",
	"CASEFLEET_QUEUE_RETRY_DELAY=500ms",
}

// The kill schedule: the agent runs for a random while, is SIGKILLed,
// stays down for a random while and starts again on the same data.
const (
	minUptime, maxUptime     = 200 * time.Millisecond, 2500 * time.Millisecond
	minDowntime, maxDowntime = 100 * time.Millisecond, 2000 * time.Millisecond
)

// Phones order without pause while the agent is killed again and again.
// Once the kills stop and everything has settled: no acknowledged order is
// lost, no order reached the machine twice, no order the machine printed is
// reported failed (nor one it did not print complete), and the store is
// consistent. Orders of unknown outcome are allowed (the staff settle
// them) and reported with what the platform made of them.
func TestChaos(t *testing.T) {
	seed := *chaosSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("chaos seed %d (rerun: go test ./agent/e2e -run Chaos -chaos.seed=%d -chaos.kills=%d)", seed, seed, *chaosKills)
	t.Run("persistent session", func(t *testing.T) {
		r := runChaos(t, seed, nil)
		t.Log(r.table())
		r.check(t)
	})
	if *chaosClean {
		t.Run("clean session", func(t *testing.T) {
			r := runChaos(t, seed, []string{"CASEFLEET_CHITU_CLEAN_SESSION=true"})
			t.Log(r.table())
			r.check(t)
		})
	}
}

// runChaos runs the kiosk under the kill schedule of seed and reports.
func runChaos(t *testing.T, seed uint64, extraEnv []string) *chaosReport {
	began := time.Now()
	k := startKiosk(t, chaosSimArgs, append(slices.Clone(chaosAgentEnv), extraEnv...)...)
	k.admin.Admin(t, http.MethodPost, "/admin/faults", sim.Fault{Call: "machineCreateOrder", DelayMs: int(chaosCreateOrderDelay.Milliseconds())}, nil)
	k.waitOnline()
	product := agenttest.NewCustomer(t, k.api).FirstProduct(t)
	photo := agenttest.Photo(t, 64, 48)

	book := &ledger{}
	ordering, stopOrdering := context.WithCancel(context.Background())
	defer stopOrdering()
	finish, stopFinishing := context.WithCancel(context.Background()) // bounded once ordering ends
	defer stopFinishing()
	phones := make([]*chaosPhone, *chaosPhones)
	var wg sync.WaitGroup
	var phoneErrs []error
	var errMu sync.Mutex
	for i := range phones {
		p := &chaosPhone{api: k.api, client: &http.Client{Timeout: 10 * time.Second}, product: product, photo: photo, ledger: book}
		phones[i] = p
		if err := p.start(finish); err != nil {
			t.Fatalf("phone %d: %v", i, err)
		}
		wg.Go(func() {
			if err := p.shop(ordering, finish); err != nil {
				errMu.Lock()
				phoneErrs = append(phoneErrs, fmt.Errorf("phone %d: %w", i, err))
				errMu.Unlock()
			}
		})
	}

	rng := rand.New(rand.NewPCG(seed, seed))
	var restarts []time.Duration // from start to /healthz answering
	for range *chaosKills {
		time.Sleep(minUptime + time.Duration(rng.Int64N(int64(maxUptime-minUptime))))
		k.agent.Kill()
		time.Sleep(minDowntime + time.Duration(rng.Int64N(int64(maxDowntime-minDowntime))))
		started := time.Now()
		k.agent.Start(t)
		waitHTTP(t, "http://"+k.lanAddr+"/healthz")
		restarts = append(restarts, time.Since(started))
	}
	stopOrdering()
	time.AfterFunc(2*time.Minute, stopFinishing) // orders in flight get their answer by then
	wg.Wait()
	for _, err := range phoneErrs {
		t.Error(err)
	}

	settleBegan := time.Now()
	bySession := make(map[string]*chaosPhone)
	for _, p := range phones {
		bySession[p.session] = p
	}
	settle(t, k, book.acked(), bySession)
	settled := time.Since(settleBegan)

	// Read the store as recovery will: after a kill, read-only.
	k.agent.Kill()
	r := &chaosReport{
		Seed: seed, Kills: *chaosKills, Phones: len(phones), Env: extraEnv, Restarts: restarts,
		Wall: time.Since(began), Settle: settled,
		Acked: book.acked(), Refusals: book.refusal, Vendor: k.admin.Orders(t, code),
		Adopted: k.agent.Count("adopting the vendor order"),
		Sends:   k.agent.Count("sending order to the machine"),
		log:     k.agent.Output(),
	}
	r.Stored, r.Verify = readStore(t, dataDirOf(k.env), slices.Collect(maps.Keys(bySession)))
	r.analyse()
	return r
}

// settle waits until every acknowledged order is settled (terminal or of
// unknown outcome), the machine has nothing in progress, and nothing
// changed over the last poll. When that does not come, the agent's
// goroutines are dumped (SIGQUIT) with the last state seen.
func settle(t *testing.T, k *kiosk, acked []chaosOrder, phones map[string]*chaosPhone) {
	const within = 2 * time.Minute
	deadline := time.Now().Add(within)
	var last string
	for {
		var snap strings.Builder
		settled := true
		for _, a := range acked {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			o, found, err := phones[a.Session].get(ctx, a.ID)
			cancel()
			fmt.Fprintf(&snap, "order %s: found %v, %s/%s, err %v\n", a.ID, found, o.Status, o.Stage, err)
			settled = settled && err == nil && (!found || o.settled())
		}
		for _, v := range k.admin.Orders(t, code) {
			fmt.Fprintf(&snap, "vendor %s: %s\n", v.ID, v.Status)
			settled = settled && !vendorInProgress(v.Status)
		}
		if settled && snap.String() == last {
			return
		}
		last = snap.String()
		if time.Now().After(deadline) {
			k.agent.Signal(syscall.SIGQUIT)
			<-k.agent.Done()
			t.Fatalf("not settled within %v; last seen:\n%s\nthe agent's goroutines:\n%s", within, last, k.agent.Tail(400))
		}
		time.Sleep(time.Second)
	}
}

func vendorInProgress(status string) bool {
	switch status {
	case protocol.OrderPending, protocol.OrderPaid, protocol.OrderPrinting:
		return true
	}
	return false
}

// readStore opens the agent's bbolt file read-only, checks it with
// queue.Verify and returns every order of the sessions.
func readStore(t *testing.T, dataDir string, sessions []string) ([]queue.Order, error) {
	db, err := bbolt.Open(filepath.Join(dataDir, daemon.DBFile), 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := queue.Open(db, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var orders []queue.Order
	for _, s := range sessions {
		of, err := q.BySession(s)
		if err != nil {
			t.Fatal(err)
		}
		orders = append(orders, of...)
	}
	return orders, q.Verify()
}

func dataDirOf(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "CASEFLEET_DATA_DIR="); ok {
			return v
		}
	}
	return ""
}

// chaosReport is what a chaos run did and how every order ended, at the
// agent and at the platform.
type chaosReport struct {
	Seed         uint64
	Kills        int
	Phones       int
	Env          []string
	Wall, Settle time.Duration
	Restarts     []time.Duration // start to /healthz, each restart

	Acked    []chaosOrder    // what the phones were told
	Refusals map[string]int  // 5xx and 4xx the phones met (retried)
	Stored   []queue.Order   // every order of the phones' sessions in the store
	Vendor   []sim.OrderView // every order the platform took
	Verify   error           // queue.Verify on the store
	Adopted  int             // vendor orders adopted by the agent (its log)
	Sends    int             // createOrder calls the agent made (its log)
	log      string          // the agent's output, every run
	outcome  map[string][]string
	failed   map[string]int
	problems map[string][]string // kind -> order ids
}

// Kinds of problem, each a broken promise.
const (
	probLost          = "lost (acknowledged, unknown to the agent)"
	probDuplicated    = "duplicated at the vendor (more than one vendor order)"
	probPrintedTwice  = "printed twice or more at the vendor"
	probFailedPrinted = "failed although the vendor completed it"
	probCompleteNot   = "complete although the vendor did not complete it"
	probUnsettled     = "not settled (neither terminal nor unknown outcome)"
	probStranger      = "vendor orders that are none of ours"
)

// analyse matches every stored order with the vendor orders whose
// image_url is its print file (the agent sends the print file's URL, so
// the file's token names our order at the platform).
func (r *chaosReport) analyse() {
	r.outcome = make(map[string][]string)
	r.failed = make(map[string]int)
	r.problems = make(map[string][]string)
	stored := make(map[string]queue.Order)
	byFile := make(map[string]bool)
	for _, o := range r.Stored {
		stored[o.ID] = o
		byFile[o.PrintFile] = true
	}
	for _, a := range r.Acked {
		if _, ok := stored[a.ID]; !ok {
			r.problems[probLost] = append(r.problems[probLost], a.ID)
		}
	}
	vendor := make(map[string][]sim.OrderView)
	for _, v := range r.Vendor {
		file := path.Base(v.ImageURL)
		if !byFile[file] {
			r.problems[probStranger] = append(r.problems[probStranger], v.ID)
		}
		vendor[file] = append(vendor[file], v)
	}
	for _, o := range r.Stored {
		vs := vendor[o.PrintFile]
		completed := 0
		for _, v := range vs {
			if v.Status == protocol.OrderCompleted {
				completed++
			}
		}
		if len(vs) > 1 {
			r.problems[probDuplicated] = append(r.problems[probDuplicated], o.ID)
		}
		if completed > 1 {
			r.problems[probPrintedTwice] = append(r.problems[probPrintedTwice], o.ID)
		}
		switch {
		case o.Status == queue.StatusComplete:
			r.outcome["complete"] = append(r.outcome["complete"], o.ID)
			if completed == 0 {
				r.problems[probCompleteNot] = append(r.problems[probCompleteNot], o.ID)
			}
		case o.Status == queue.StatusFailed:
			r.outcome["failed"] = append(r.outcome["failed"], o.ID)
			r.failed[o.FailureReason]++
			if completed > 0 {
				r.problems[probFailedPrinted] = append(r.problems[probFailedPrinted], o.ID)
			}
		case o.Status == queue.StatusCancelled:
			r.outcome["cancelled"] = append(r.outcome["cancelled"], o.ID)
		case o.Stage == queue.StageUnknownOutcome:
			// What the platform made of it: the staff's answer.
			at := "unknown outcome, never reached the vendor"
			switch {
			case completed > 0:
				at = "unknown outcome, the vendor completed it"
			case len(vs) > 0:
				at = "unknown outcome, the vendor did not print it (" + vs[len(vs)-1].Status + ")"
			}
			r.outcome["unknown outcome"] = append(r.outcome["unknown outcome"], o.ID)
			r.outcome[at] = append(r.outcome[at], o.ID)
		default:
			r.problems[probUnsettled] = append(r.problems[probUnsettled], o.ID)
		}
	}
}

// table is the run's report, one figure a line.
func (r *chaosReport) table() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(name string, v any) { fmt.Fprintf(w, "  %s\t%v\n", name, v) }
	fmt.Fprintf(&b, "\nchaos: seed %d, %d phones, env %v; %v in all (settling %v)\n", r.Seed, r.Phones, r.Env, r.Wall.Round(time.Second), r.Settle.Round(100*time.Millisecond))
	row("kills (SIGKILL, restart on the same data)", r.Kills)
	if n := len(r.Restarts); n > 0 {
		sorted := slices.Sorted(slices.Values(r.Restarts))
		row("restart to /healthz, median / max", fmt.Sprintf("%v / %v", sorted[n/2].Round(time.Millisecond), sorted[n-1].Round(time.Millisecond)))
	}
	row("orders acknowledged to a phone (202/200)", len(r.Acked))
	row("orders in the store", len(r.Stored))
	row("createOrder calls (sends)", r.Sends)
	row("vendor orders", len(r.Vendor))
	row("vendor orders adopted by the agent", r.Adopted)
	for _, name := range []string{"complete", "failed", "cancelled", "unknown outcome"} {
		row(name, len(r.outcome[name]))
	}
	for _, reason := range slices.Sorted(maps.Keys(r.failed)) {
		row("  failed: "+reason, r.failed[reason])
	}
	for _, name := range slices.Sorted(maps.Keys(r.outcome)) {
		if strings.HasPrefix(name, "unknown outcome,") {
			row("  "+name, len(r.outcome[name]))
		}
	}
	for _, p := range []string{probLost, probDuplicated, probPrintedTwice, probFailedPrinted, probCompleteNot, probUnsettled, probStranger} {
		row(p, len(r.problems[p]))
	}
	verify := "clean"
	if r.Verify != nil {
		verify = r.Verify.Error()
	}
	row("queue.Verify", verify)
	for _, code := range slices.Sorted(maps.Keys(r.Refusals)) {
		row("phones answered "+code+" (retried)", r.Refusals[code])
	}
	w.Flush()
	return b.String()
}

// check holds the run to the promises, and for each broken one shows the
// evidence: the order at the agent, at the platform, and the agent's log.
func (r *chaosReport) check(t *testing.T) {
	t.Helper()
	if r.Verify != nil {
		t.Errorf("queue.Verify after the run: %v", r.Verify)
	}
	if len(r.Acked) == 0 || len(r.outcome["complete"]) == 0 {
		t.Errorf("%d orders acknowledged, %d complete: the run proves nothing", len(r.Acked), len(r.outcome["complete"]))
	}
	for _, p := range []string{probLost, probDuplicated, probFailedPrinted, probCompleteNot, probUnsettled, probStranger} {
		if ids := r.problems[p]; len(ids) > 0 {
			t.Errorf("%d orders %s (seed %d):\n%s", len(ids), p, r.Seed, r.evidence(ids))
		}
	}
	// Unknown outcomes are allowed, but say what the platform made of them.
	if ids := r.outcome["unknown outcome, the vendor completed it"]; len(ids) > 0 {
		t.Logf("%d orders of unknown outcome that the vendor completed (the agent never heard):\n%s", len(ids), r.evidence(ids))
	}
}

// evidence describes orders: ours, the vendor's, and the agent's log lines
// about them (the first few ids only).
func (r *chaosReport) evidence(ids []string) string {
	var b strings.Builder
	for i, id := range ids {
		if i == 5 {
			fmt.Fprintf(&b, "... and %d more\n", len(ids)-i)
			break
		}
		var o queue.Order
		for _, s := range r.Stored {
			if s.ID == id {
				o = s
			}
		}
		fmt.Fprintf(&b, "order %s: %s/%s, %d attempts, vendor order %q, sent %v, fetched %v, reason %q\n",
			id, o.Status, o.Stage, o.Attempts, o.VendorOrderID, stamp(o.SentAt), stamp(o.FetchedAt), o.FailureReason)
		for _, v := range r.Vendor {
			if o.PrintFile == "" || path.Base(v.ImageURL) != o.PrintFile {
				continue
			}
			fmt.Fprintf(&b, "  vendor %s %s, fetch %d attempts ok=%v:", v.ID, v.Status, v.Fetch.Attempts, v.Fetch.OK)
			for _, h := range v.History {
				fmt.Fprintf(&b, " %s %s (published %v);", h.At.Format("15:04:05.000"), h.Status, h.Published)
			}
			b.WriteString("\n")
		}
		for line := range strings.Lines(r.log) {
			if strings.Contains(line, id) || (o.VendorOrderID != "" && strings.Contains(line, o.VendorOrderID)) {
				b.WriteString("  agent: " + line)
			}
		}
	}
	return b.String()
}

func stamp(at *time.Time) string {
	if at == nil {
		return "-"
	}
	return at.Format("15:04:05.000")
}
