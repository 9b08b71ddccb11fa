package server_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"casefleet/relay/relaytest"
	"casefleet/shared/tunnel"
)

// A full machine is said to be full: in GET /api/machines, and among the
// alternatives of an offline or unknown machine, where it comes after
// the machines that can take an order and is no link on the page. An
// agent older than queueCapacity and full is a machine that is not full.
func TestFullMachinesAreSaidToBeFull(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	full := newKiosk("CT0700026", "East escalator", "mall-3f")
	full.status = map[string]any{"status": "printing", "queueLength": 20, "estimatedWaitSeconds": 7200, "queueCapacity": 20, "full": true}
	free := newKiosk("CT0700028", "West entrance", "mall-3f")
	free.status = map[string]any{"status": "online", "queueLength": 3, "estimatedWaitSeconds": 1470, "queueCapacity": 20, "full": false}
	old := newKiosk("CT0700029", "Cinema", "mall-3f") // an older agent: neither field
	for _, k := range []*kiosk{full, free, old} {
		startKiosk(t, f, relay.URL, k)
	}
	food := startKiosk(t, f, relay.URL, newKiosk("CT0700027", "Food court", "mall-3f"))
	food.Stop()
	relaytest.Eventually(t, relaytest.Wait, "CT0700027 offline at the relay", func() bool {
		status, _, _ := do(t, "GET", relay.URL+api+"CT0700027/status", nil)
		return status == http.StatusServiceUnavailable
	})

	t.Run("machines list", func(t *testing.T) {
		var list struct {
			Machines []struct {
				Code          string
				QueueCapacity int
				Full          bool
			}
		}
		_, _, body := do(t, "GET", relay.URL+"/api/machines?location=mall-3f", nil)
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, m := range list.Machines {
			b, _ := json.Marshal(map[string]any{"queueCapacity": m.QueueCapacity, "full": m.Full})
			got[m.Code] = string(b)
		}
		want := map[string]string{
			"CT0700026": `{"full":true,"queueCapacity":20}`,
			"CT0700028": `{"full":false,"queueCapacity":20}`,
			"CT0700029": `{"full":false,"queueCapacity":0}`,
		}
		for code, w := range want {
			if got[code] != w {
				t.Errorf("%s: %s, want %s\n%s", code, got[code], w, body)
			}
		}
		// Sent, not merely absent (which would decode the same).
		if !strings.Contains(body, `"queueCapacity":0,"full":false`) {
			t.Errorf("an older agent's machine does not list queueCapacity 0 and full false: %s", body)
		}
	})

	for _, c := range []struct{ name, path string }{
		{"offline machine", api + "CT0700027/status"},
		{"unknown machine with the QR code's location", api + "CT0799999/status?location=mall-3f"},
	} {
		t.Run(c.name+", JSON", func(t *testing.T) {
			_, _, body := do(t, "GET", relay.URL+c.path, nil)
			e := decodeError(t, body)
			if got := altCodes(e); got != "CT0700028,CT0700029,CT0700026" {
				t.Fatalf("alternatives %s, want the two that take orders, then the full one", got)
			}
			if a := e.Error.Alternatives[2]; !a.Full || a.QueueCapacity != 20 || a.QueueLength != 20 {
				t.Errorf("the full machine: %+v", a)
			}
			if a := e.Error.Alternatives[0]; a.Full || a.EstimatedWaitSeconds != 1470 {
				t.Errorf("the free machine: %+v", a)
			}
		})
	}

	t.Run("offline machine, browser", func(t *testing.T) {
		for _, c := range []struct{ lang, free, full string }{
			{"en", "3 orders in line · wait about 25 minutes", "Full"},
			{"fr", "3 commandes en attente · environ 25 minutes d’attente", "Complète"},
			{"zh-CN", "3 个订单排队中 · 预计等待约 25 分钟", "已满"},
		} {
			_, _, body := do(t, "GET", relay.URL+"/editor?machine=CT0700027&location=mall-3f", nil, "Accept", "text/html", "Accept-Language", c.lang)
			west := strings.Index(body, `<a class="alt" href="/editor?machine=CT0700028&amp;location=mall-3f"><span class="name">West entrance</span><span class="queue">`+c.free+`</span>`)
			east := strings.Index(body, `<span class="name">East escalator</span><span class="queue"><span class="full-tag">`+c.full+`</span>`)
			if west < 0 || east < west {
				t.Errorf("%s: the free machine with its line and wait, then the full one saying %q, are not on the page:\n%s", c.lang, c.full, body)
			}
			if strings.Contains(body, "machine=CT0700026") {
				t.Errorf("%s: the full machine is offered as a link", c.lang)
			}
		}
	})
}

var refresh = regexp.MustCompile(`<meta http-equiv="refresh" content="(\d+); url=([^"]*)">`)

// A browser that finds a machine's agent away gets a page that tries
// again by itself when Retry-After says, and a Try again button to the
// same address in the same language; once the agent is back, that
// address is the machine's app. Only the relay's answers that say when
// to come back retry, and only for a GET.
func TestMachineDownPageRetriesUntilTheAgentIsBack(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	k := newKiosk("CT0700027", "Food court", "mall-3f")
	startKiosk(t, f, relay.URL, k).Stop()
	relaytest.Eventually(t, relaytest.Wait, "CT0700027 offline at the relay", func() bool {
		status, _, _ := do(t, "GET", relay.URL+api+"CT0700027/status", nil)
		return status == http.StatusServiceUnavailable
	})

	page := relay.URL + "/editor?machine=CT0700027&location=mall-3f"
	status, h, body := do(t, "GET", page, nil, "Accept", "text/html", "Accept-Language", "de")
	m := refresh.FindStringSubmatch(body)
	if status != 503 || m == nil || m[1] != h.Get("Retry-After") {
		t.Fatalf("= %d, Retry-After %q, refresh %q; want 503 and a refresh after Retry-After\n%s", status, h.Get("Retry-After"), m, body)
	}
	again := html.UnescapeString(m[2])
	if !strings.Contains(body, `<a class="retry" href="`+m[2]+`">Erneut versuchen</a>`) {
		t.Errorf("no Try again button to %s:\n%s", again, body)
	}
	base, _ := url.Parse(page)
	rel, err := url.Parse(again)
	if err != nil {
		t.Fatal(err)
	}
	retry := base.ResolveReference(rel)
	if q := retry.Query(); retry.Path != "/editor" || q.Get("machine") != "CT0700027" || q.Get("location") != "mall-3f" || q.Get("lang") != "de" {
		t.Errorf("the retry goes to %s, want this page in German", retry)
	}

	// Retrying while the agent is away: the same page again.
	status, _, body = do(t, "GET", retry.String(), nil, "Accept", "text/html")
	if status != 503 || !strings.Contains(body, "<h1>Dieser Automat ist offline</h1>") || refresh.FindString(body) == "" {
		t.Errorf("retry while away = %d\n%s", status, body)
	}

	// The agent comes back: the retry lands in its app.
	startKiosk(t, f, relay.URL, k)
	status, _, body = do(t, "GET", retry.String(), nil, "Accept", "text/html")
	if want := "CT0700027 GET /editor?lang=de&location=mall-3f&machine=CT0700027"; status != 200 || body != want {
		t.Errorf("retry once the agent is back = %d %q, want the app: %q", status, body, want)
	}
}

func TestWhichPagesRetry(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	startKiosk(t, f, relay.URL, newKiosk("CT0700027", "Food court", "mall-3f")).Stop() // and no other agent
	relaytest.Eventually(t, relaytest.Wait, "CT0700027 offline at the relay", func() bool {
		status, _, _ := do(t, "GET", relay.URL+api+"CT0700027/status", nil)
		return status == http.StatusServiceUnavailable
	})
	for _, c := range []struct {
		name, method, path string
		status             int
		retries            bool
	}{
		{"no machine online for the app's assets", "GET", "/app/main.js", 503, true},
		{"unknown machine: scanning again, not waiting, helps", "GET", "/editor?machine=CT0799999", 404, false},
		{"offline machine", "GET", "/editor?machine=CT0700027", 503, true},
		{"a form sent to an offline machine is not sent again", "POST", api + "CT0700027/print", 503, false},
		{"a bad request", "GET", "/editor", 400, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, h, body := do(t, c.method, relay.URL+c.path, nil, "Accept", "text/html")
			m := refresh.FindStringSubmatch(body)
			switch {
			case status != c.status:
				t.Errorf("status %d, want %d", status, c.status)
			case c.retries && (m == nil || m[1] != h.Get("Retry-After") || !strings.Contains(body, `class="retry"`)):
				t.Errorf("no retry after Retry-After %q:\n%s", h.Get("Retry-After"), body)
			case !c.retries && (m != nil || strings.Contains(body, `class="retry"`)):
				t.Errorf("retries:\n%s", body)
			}
		})
	}
}

// A request whose tunnel went down on its way is answered "offline",
// even while that same tunnel has not yet left the relay's table (its
// session ends a moment before the relay takes it out); only a newer
// tunnel of the machine means the agent reconnected, and asks for a retry
// in a second. CI once saw the first case answered as the second.
func TestFailedTripIsAReconnectOnlyWithANewerTunnel(t *testing.T) {
	f := relaytest.NewFleet(t)
	relay := relaytest.StartRelay(t, f.Config(t))
	k := newKiosk("CT0700027", "Food court", "mall-3f")
	first := startKiosk(t, f, relay.URL, k)
	tried := relay.Server.TunnelOf("CT0700027")
	if tried == nil {
		t.Fatal("no tunnel for the kiosk")
	}
	failed := func() (int, string) {
		t.Helper()
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", api+"CT0700027/status", nil)
		relay.Server.AnswerFailedTrip(w, r, "CT0700027", tried, fmt.Errorf("open stream: %w", tunnel.ErrClosed))
		return w.Code, decodeError(t, w.Body.String()).Error.Code
	}
	if status, code := failed(); status != 503 || code != "machine_offline" {
		t.Errorf("the trip's own tunnel still listed: %d %s, want 503 machine_offline", status, code)
	}

	first.Stop()
	startKiosk(t, f, relay.URL, k)
	if status, code := failed(); status != 503 || code != "agent_reconnected" {
		t.Errorf("a newer tunnel listed: %d %s, want 503 agent_reconnected", status, code)
	}
}
