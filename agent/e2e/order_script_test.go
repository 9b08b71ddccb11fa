package e2e

import (
	"bufio"
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/shared/testenv"
)

// scripts/order.sh, the README's first order, follows its order to the
// end even when it waits in line behind others (it has no pickup code
// then).
func TestOrderScriptFollowsAnOrderThroughTheLine(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if testenv.Required() {
			t.Fatal("order.sh needs curl (apt-get install curl)")
		}
		t.Skip("order.sh needs curl (apt-get install curl)")
	}
	// Nobody pays at the machine until the script has seen its order wait:
	// the two orders ahead hold the line till then.
	k := startKiosk(t, []string{"--print-seconds", "0.3", "--pay-seconds", "-1"})
	k.waitOnline()
	phone := agenttest.NewCustomer(t, k.api)
	product := phone.FirstProduct(t)
	for range 2 {
		phone.Order(t, product)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "..", "scripts", "order.sh"), code)
	cmd.Env = append(cmd.Environ(), "RELAY_URL=http://"+k.lanAddr) // the agent's LAN port serves the same API
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var out strings.Builder
	var pay <-chan time.Time // nil (never) until the script's order waits
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				done = true
				break
			}
			out.WriteString(l + "\n")
			if pay == nil && strings.Contains(l, "status=queued stage=queued position=3") {
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				pay = tick.C
			}
		case <-pay: // the customers at the machine pay in turn
			for _, o := range k.admin.Orders(t, code) {
				if o.Status == "pending" {
					k.admin.Admin(t, http.MethodPost, "/admin/orders/"+o.ID+"/pay", nil, nil)
				}
			}
		}
	}
	err = cmd.Wait()
	t.Logf("order.sh:\n%s", out.String())
	if err != nil {
		t.Fatalf("order.sh: %v", err)
	}
	for _, want := range []string{"status=queued stage=queued position=3", "status=complete", "done: order"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("order.sh's output lacks %q", want)
		}
	}
}
