package e2e

import (
	"strings"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/shared/testenv"
)

// status shows the running agent's printer, queue and relay on one screen.
func TestStatusShowsTheRunningAgent(t *testing.T) {
	k := startKiosk(t, []string{"--print-seconds", "0.3", "--pay-seconds", "-1"}, "CASEFLEET_LAN_OPERATOR_PIN=246810")
	k.waitOnline()
	phone := agenttest.NewCustomer(t, k.api)
	product := phone.FirstProduct(t)
	first := phone.Order(t, product)
	phone.Order(t, product)
	testenv.Eventually(t, 10*time.Second, "first order at the machine", func() bool {
		return phone.Get(t, first.ID).Stage == "awaiting_payment"
	})

	out, exit := runAgentCLI(t, k.env, "status")
	if exit != 0 {
		t.Fatalf("status: exit %d\n%s", exit, out)
	}
	for _, want := range []string{code, "printer", "printing", "MQTT up", "not configured", "2 order(s)", "at the printer", "awaiting_payment", "#2 in line"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	noPIN := append(append([]string{}, k.env...), "CASEFLEET_LAN_OPERATOR_PIN=")
	if out, exit := runAgentCLI(t, noPIN, "status"); exit != 1 || !strings.Contains(out, "lan.operator_pin") {
		t.Fatalf("status without a PIN: exit %d\n%s", exit, out)
	}
}
