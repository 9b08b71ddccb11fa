package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"casefleet/agent/config"
	"casefleet/agent/daemon"
	"casefleet/agent/dashboard"
	"casefleet/agent/queue"
)

// checkStore runs the queue's consistency check (queue.Verify) on the
// agent's store, read-only.
//
// bbolt locks the file for the process that has it open for writing, and
// a read-only open waits for that lock, on Linux and Windows alike; so
// while the agent runs, doctor cannot read the file itself. It then asks
// the running agent, which checks its store in one read transaction (a
// snapshot that does not hold up its writes), through the operator API
// with the PIN, as `status` does. Copying the file instead could catch it
// half-written and report damage that is not there.
func checkStore(ctx context.Context, cfg config.Config) Check {
	c := Check{Name: "order store"}
	path := filepath.Join(cfg.DataDir, daemon.DBFile)
	if _, err := os.Stat(path); err != nil {
		c.Info = "no database yet: the agent creates it on first start"
		return c
	}
	// Read-only: doctor often runs as root, and must not change (or take
	// ownership of) the service's file.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bbolt.ErrTimeout) {
		return askAgent(ctx, cfg, path)
	}
	if err != nil {
		c.Err = fmt.Errorf("%s cannot be opened: %w", path, err)
		c.Fix = damagedFix(path)
		return c
	}
	defer db.Close()
	q, err := queue.Open(db, queue.Options{})
	if err != nil {
		c.Err = fmt.Errorf("%s cannot be read: %w", path, err)
		c.Fix = damagedFix(path)
		return c
	}
	c = storeResult(c, dashboard.CheckStore(q.Verify), path)
	if c.Err == nil {
		c.Info = path + " is consistent"
		if paused, err := q.Paused(); err == nil && paused {
			c.Info += "; the queue is PAUSED by an operator: no order goes to the printer until someone presses Resume queue on the dashboard"
		}
	}
	return c
}

// askAgent has the running agent check its store.
func askAgent(ctx context.Context, cfg config.Config, path string) Check {
	c := Check{Name: "order store"}
	stopFirst := "stop the agent (systemctl stop casefleet-agent; on Windows Stop-Service casefleet-agent), run doctor again, then start it"
	if cfg.LAN.OperatorPIN == "" {
		c.Skip = true
		c.Info = "in use by the running agent; to check it, set lan.operator_pin (doctor asks the agent with it) or " + stopFirst
		return c
	}
	base, err := AgentURL(cfg.LAN.Listen)
	if err != nil {
		c.Err, c.Fix = err, "correct lan.listen"
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/operator/api/store/check", nil)
	if err != nil {
		c.Err, c.Fix = err, "correct lan.listen"
		return c
	}
	req.Header.Set("Authorization", "Bearer "+cfg.LAN.OperatorPIN)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.Err = fmt.Errorf("%s is locked by another program, and no agent answers on %s: %w", path, base, err)
		c.Fix = "if the agent runs, check that lan.listen here is the running agent's; otherwise close the program that holds the file (another doctor?) and run doctor again"
		return c
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		c.Skip = true
		c.Info = "in use by an agent too old to check its store; to check it, " + stopFirst
		return c
	case http.StatusUnauthorized, http.StatusTooManyRequests:
		c.Err = fmt.Errorf("the running agent refused the operator PIN (%s)", resp.Status)
		c.Fix = "lan.operator_pin here differs from the running agent's: restart the agent after changing the PIN"
		return c
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		c.Err = fmt.Errorf("the running agent answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
		c.Fix = "read the agent's log (journalctl -u casefleet-agent) around this time"
		return c
	}
	var report dashboard.StoreCheck
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&report); err != nil {
		c.Err = fmt.Errorf("unreadable answer from the running agent: %w", err)
		c.Fix = "use a doctor of the same version as the agent"
		return c
	}
	c = storeResult(c, report, path)
	if c.Err == nil {
		c.Info = path + " is consistent (checked by the running agent)"
	}
	return c
}

// storeResult fills c from the check's report: each problem with what to
// do about it.
func storeResult(c Check, r dashboard.StoreCheck, path string) Check {
	if r.Error != "" {
		c.Err = fmt.Errorf("%s could not be read to the end: %s", path, r.Error)
		c.Fix = damagedFix(path)
		return c
	}
	if len(r.Problems) == 0 {
		return c
	}
	n := fmt.Sprint(len(r.Problems))
	if len(r.Problems) >= 20 { // queue.Verify stops counting at 20
		n = "at least 20"
	}
	c.Err = fmt.Errorf("%s problem(s) in %s", n, path)
	c.Fix = "first stop the agent and keep a copy of " + path + " (the evidence, and a way back); then, for each kind of problem below, do what it says"
	var kinds []problemKind
	byKind := map[problemKind][]string{}
	for _, p := range r.Problems {
		k := kindOf(p)
		if byKind[k] == nil {
			kinds = append(kinds, k)
		}
		byKind[k] = append(byKind[k], p)
	}
	for _, k := range kinds {
		for _, p := range byKind[k] {
			c.Details = append(c.Details, "- "+p)
		}
		c.Details = append(c.Details, "  what to do: "+advice(k))
	}
	return c
}

// problemKind groups queue.Verify's problems by what they mean for the
// kiosk.
type problemKind int

const (
	kindOrders problemKind = iota
	kindLine
	kindSessions
	kindVendor
	kindPrintFiles
	kindFinished
	kindEvents
	kindMeasurements
)

// kindOf reads a problem's kind from the start of queue.Verify's message.
// Unknown forms count as damaged orders, the safest advice.
func kindOf(problem string) problemKind {
	switch {
	case strings.Contains(problem, "finished log"):
		return kindFinished
	case strings.HasPrefix(problem, "line:"):
		return kindLine
	case strings.HasPrefix(problem, "session index:"), strings.HasPrefix(problem, "idempotency index:"):
		return kindSessions
	case strings.HasPrefix(problem, "vendor index:"):
		return kindVendor
	case strings.HasPrefix(problem, "print file index:"):
		return kindPrintFiles
	case strings.HasPrefix(problem, "event"):
		return kindEvents
	case strings.HasPrefix(problem, "measurement"):
		return kindMeasurements
	}
	return kindOrders
}

func advice(k problemKind) string {
	switch k {
	case kindLine:
		return "the line and the orders disagree: an order may never reach the printer, or the line may stall. Compare the dashboard's queue with the customers waiting and cancel or retry the orders named here; send the copy of the file and this report to support"
	case kindSessions:
		return "customers may not find these orders when they come back to the page, and a retried order could be made twice; printing is not affected. Send the copy of the file and this report to support"
	case kindVendor:
		return "the printer's reports about these orders may not reach them: watch them on the dashboard and cancel or retry any that stall"
	case kindPrintFiles:
		return "the printer may not fetch these orders' print files: retry them on the dashboard if they fail"
	case kindFinished:
		return "finished orders are listed or cleaned up wrongly; printing is not affected. Send the copy of the file and this report to support"
	case kindEvents:
		return "phones following live updates may miss a step (a reload shows the truth); printing is not affected. Nothing to do now"
	case kindMeasurements:
		return "wait estimates may be off; nothing to do"
	}
	return "order records are damaged (a failing disk, or the file was replaced while the agent ran): " + restore
}

// restore is the way back from a damaged file.
const restore = "check the disk; then restore the data_dir from the latest backup, or move the file aside so that the agent starts with an empty queue (the orders in it are lost: look at the dashboard first, to reprint or refund those customers)"

func damagedFix(path string) string {
	return "stop the agent, keep a copy of " + path + ", " + restore
}

// AgentURL is where this PC reaches its own agent's LAN listener.
func AgentURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("lan.listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}
