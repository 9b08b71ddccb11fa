package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"casefleet/relay/relaytest"
)

// kiosk is a stand-in agent's handler: it answers the status call like
// the agent, echoes what it was sent, and records every request it saw.
type kiosk struct {
	code, name, location string
	release              chan struct{} // closes to let /slow answer
	// status, if set, is the status answer's fields beyond code, name and
	// location (default: online with 2 in line, as an agent before
	// queueCapacity and full answers). Set before the kiosk starts.
	status map[string]any

	mu   sync.Mutex
	seen []string
}

func newKiosk(code, name, location string) *kiosk {
	return &kiosk{code: code, name: name, location: location, release: make(chan struct{})}
}

func (k *kiosk) requests() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.seen...)
}

func (k *kiosk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	k.seen = append(k.seen, r.Method+" "+r.URL.RequestURI())
	k.mu.Unlock()
	prefix := "/api/chitu/machine/" + k.code
	switch p := r.URL.Path; {
	case p == prefix+"/status":
		st := map[string]any{"code": k.code, "name": k.name, "location": k.location, "status": "online", "queueLength": 2}
		if k.status != nil {
			st = map[string]any{"code": k.code, "name": k.name, "location": k.location}
			maps.Copy(st, k.status)
		}
		json.NewEncoder(w).Encode(st)
	case p == prefix+"/headers":
		json.NewEncoder(w).Encode(map[string]string{
			"xff": r.Header.Get("X-Forwarded-For"), "proto": r.Header.Get("X-Forwarded-Proto"),
			"host": r.Host, "hop": r.Header.Get("X-Casefleet-Relay-Hop"), "connection": r.Header.Get("Connection"),
			"served_by": k.code,
		})
	case p == prefix+"/upload":
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d", n)
	case p == prefix+"/events":
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte(k.code+" echo: "), msg...)); err != nil {
				return
			}
		}
	case p == prefix+"/slow":
		<-k.release
		io.WriteString(w, "slow answer")
	default:
		io.WriteString(w, k.code+" "+r.Method+" "+r.URL.RequestURI())
	}
}

// startKiosk connects a stand-in agent for code to the relay and waits
// until the relay routes to it.
func startKiosk(t *testing.T, f *relaytest.Fleet, relayURL string, k *kiosk) *relaytest.Agent {
	t.Helper()
	a := relaytest.StartAgent(t, relaytest.AgentOptions{
		RelayURL: relayURL, Code: k.code, Token: f.Token(t, k.code, k.location), Handler: k,
	})
	relaytest.WaitRoutable(t, relayURL, k.code)
	return a
}

// do sends a request and returns the status, headers and body.
func do(t *testing.T, method, url string, body io.Reader, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Timeout: relaytest.Wait}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// apiError is the relay's JSON error.
type apiError struct {
	Error struct {
		Code         string `json:"code"`
		Message      string `json:"message"`
		Machine      string `json:"machine"`
		Alternatives []struct {
			Code, Name, Location, Status, EditorURL          string
			QueueLength, EstimatedWaitSeconds, QueueCapacity int
			Full                                             bool
		} `json:"alternatives"`
	} `json:"error"`
}

func decodeError(t *testing.T, body string) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not the API's error JSON: %v: %.300s", err, body)
	}
	return e
}

func altCodes(e apiError) string {
	var codes []string
	for _, a := range e.Error.Alternatives {
		codes = append(codes, a.Code)
	}
	return strings.Join(codes, ",")
}
