package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/bbolt"

	"casefleet/agent/daemon"
	"casefleet/agent/queue"
	"casefleet/shared/testenv"
)

// doctor runs the queue's consistency check on the store, with the agent
// stopped (it opens the file read-only) or running (it asks the agent), and
// says what to do about each problem.
func TestDoctorChecksTheOrderStore(t *testing.T) {
	s := startSim(t, []string{code})
	env := func(dataDir string, extra ...string) []string {
		return agentEnv(code, dataDir, testenv.FreeAddr(t), s.URL, "tcp://"+s.mqttAddr(), extra...)
	}

	healthy := t.TempDir()
	storeWithOrders(t, healthy, nil)
	out, exit := runAgentCLI(t, env(healthy), "doctor")
	if exit != 0 || !strings.Contains(out, "[ok  ] order store") || !strings.Contains(out, "is consistent") {
		t.Fatalf("doctor on a healthy store: exit %d\n%s", exit, out)
	}

	damaged := t.TempDir()
	storeWithOrders(t, damaged, damage)
	out, exit = runAgentCLI(t, env(damaged), "doctor")
	if exit != 1 {
		t.Fatalf("doctor on a damaged store: exit %d, want 1\n%s", exit, out)
	}
	for _, want := range []string{
		"[FAIL] order store", "3 problem(s)", "keep a copy of " + filepath.Join(damaged, daemon.DBFile),
		"- line: ", "cancel or retry the orders named here",
		"- session index: ", "customers may not find these orders",
		"- order \"BROKEN\"", "order records are damaged", "restore the data_dir from the latest backup",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor on a damaged store lacks %q:\n%s", want, out)
		}
	}

	// With the agent running, the file is locked: doctor asks the agent.
	running := startKiosk(t, nil, "CASEFLEET_LAN_OPERATOR_PIN=246810", "CASEFLEET_DATA_DIR="+damaged)
	out, exit = runAgentCLI(t, running.env, "doctor")
	if exit != 1 || !strings.Contains(out, "[FAIL] order store") || !strings.Contains(out, "- line: ") || !strings.Contains(out, "what to do:") {
		t.Errorf("doctor beside a running agent with a damaged store: exit %d\n%s", exit, out)
	}
	running = startKiosk(t, nil, "CASEFLEET_LAN_OPERATOR_PIN=246810")
	running.waitOnline()
	out, exit = runAgentCLI(t, running.env, "doctor")
	if exit != 0 || !strings.Contains(out, "is consistent (checked by the running agent)") {
		t.Errorf("doctor beside a running agent: exit %d\n%s", exit, out)
	}
	noPIN := append(append([]string{}, running.env...), "CASEFLEET_LAN_OPERATOR_PIN=")
	out, exit = runAgentCLI(t, noPIN, "doctor")
	if exit != 0 || !strings.Contains(out, "[skip] order store") || !strings.Contains(out, "lan.operator_pin") {
		t.Errorf("doctor beside a running agent without a PIN: exit %d\n%s", exit, out)
	}
}

// storeWithOrders makes the agent's store in dataDir with two orders, then
// lets harm change its buckets.
func storeWithOrders(t *testing.T, dataDir string, harm func(*testing.T, *bbolt.Tx)) {
	t.Helper()
	db, err := daemon.OpenDB(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := queue.Open(db, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, session := range []string{"s1", "s2"} {
		if _, err := q.Enqueue(queue.Order{SessionID: session, MachineCode: code, ProductID: "p1", ImageURL: "https://relay.example/f/x.tif"}); err != nil {
			t.Fatal(err)
		}
	}
	if harm != nil {
		if err := db.Update(func(tx *bbolt.Tx) error { harm(t, tx); return nil }); err != nil {
			t.Fatal(err)
		}
	}
}

// damage does what a failing disk or a hand edit could: an order drops
// out of the line, a session index entry points nowhere, and a record is
// not an order.
func damage(t *testing.T, tx *bbolt.Tx) {
	t.Helper()
	bucket := func(name string) *bbolt.Bucket {
		b := tx.Bucket([]byte(name))
		if b == nil {
			t.Fatalf("no bucket %s", name)
		}
		return b
	}
	line := bucket("queue.pending")
	first, _ := line.Cursor().First()
	must(t, line.Delete(first))
	must(t, bucket("queue.by_session").Put([]byte("ghost\x00\x00\x00\x00\x00\x00\x00\x00\x09"), []byte("NOSUCHORDER")))
	must(t, bucket("queue.orders").Put([]byte("BROKEN"), []byte("{not json")))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
