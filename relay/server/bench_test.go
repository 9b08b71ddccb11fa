package server_test

import (
	"io"
	"net/http"
	"testing"

	"casefleet/relay/relaytest"
)

// A small GET through the relay to a machine's API, as phones poll a
// machine's status: the relay, a real tunnel and the agent's end in this
// one process, so allocs/op counts all three and the client.
func BenchmarkProxiedSmallGET(b *testing.B) {
	f := relaytest.NewFleet(b)
	relay := relaytest.StartRelay(b, f.Config(b))
	relaytest.StartAgent(b, relaytest.AgentOptions{
		RelayURL: relay.URL, Code: "CT0700026", Token: f.Token(b, "CT0700026", "mall-3f"),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"status":"idle","queueLength":0}`)
		}),
	})
	relaytest.WaitRoutable(b, relay.URL, "CT0700026")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}}
	url := relay.URL + api + "CT0700026/status"
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
