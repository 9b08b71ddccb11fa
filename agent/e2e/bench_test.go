package e2e

import (
	"net/http"
	"testing"
	"time"

	"casefleet/shared/testenv"
)

// BenchmarkAgentStartup measures a kiosk agent's start-up: from exec to
// its LAN listener answering /healthz, on an existing data directory.
func BenchmarkAgentStartup(b *testing.B) {
	s := startSim(b, []string{code})
	lan := testenv.FreeAddr(b)
	env := agentEnv(code, b.TempDir(), lan, s.URL, "tcp://"+s.mqttAddr(), "CASEFLEET_LOG_LEVEL=warn")
	client := &http.Client{Timeout: time.Second}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		p := startProc(b, "casefleet-agent", env, "run")
		for {
			resp, err := client.Get("http://" + lan + "/healthz")
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Since(start) > 20*time.Second {
				b.Fatalf("agent not ready within 20s:\n%s", p.Output())
			}
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		p.Kill()
		b.StartTimer()
	}
}
