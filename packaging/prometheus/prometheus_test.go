package prometheus

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"casefleet/agent/agenttest"
	"casefleet/relay/relaytest"
	"casefleet/relay/updates"
	"casefleet/shared/release"
	"casefleet/shared/release/releasetest"
	"casefleet/shared/testenv"
	"casefleet/shared/testenv/promtest"
)

const (
	rulesFile     = "casefleet.rules.yml"
	rulesTestFile = "casefleet.rules.test.yml"
	dashboardFile = "../grafana/casefleet-fleet.json"
)

// promtool runs Debian's promtool (package prometheus) with args in this
// folder and returns its output, failing t if it fails. Without promtool
// the test is skipped loudly, or fails when CASEFLEET_REQUIRE_SERVICES=1.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		msg := "\n*** promtool is not installed\n*** install it: apt-get install -y prometheus\n"
		if testenv.Required() {
			t.Fatal(msg + "*** " + testenv.RequireVar + "=1, so this is a failure")
		}
		t.Skip(msg + "*** SKIPPING this test (set " + testenv.RequireVar + "=1 to make it fail)")
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestRulesPassPromtoolCheck(t *testing.T) {
	out := promtool(t, "check", "rules", rulesFile)
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules:\n%s", out)
	}
}

func TestRulesPassTheirUnitTests(t *testing.T) {
	out := promtool(t, "test", "rules", rulesTestFile)
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules:\n%s", out)
	}
}

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string
		Rules []struct {
			Alert, Record, Expr string
		}
	}
}

// ruleTests is the part of a promtool rule test file the tests read.
type ruleTests struct {
	Tests []struct {
		InputSeries []struct {
			Series string
		} `yaml:"input_series"`
		AlertRuleTest []struct {
			Alertname string
			ExpAlerts []any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	}
}

func readYAML(t *testing.T, name string, out any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// alerts lists the alert rules by name, with their expressions.
func alerts(t *testing.T) map[string]string {
	t.Helper()
	var rf ruleFile
	readYAML(t, rulesFile, &rf)
	out := map[string]string{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out[r.Alert] = r.Expr
			}
		}
	}
	return out
}

// The alerts issue 11 asks for; "a rollout halted" waits for rollouts.
var wantAlerts = []string{
	"CasefleetKioskOffline", "CasefleetInkLow", "CasefleetQueueFull", "CasefleetOrdersFailing",
	"CasefleetPrinterSilent", "CasefleetRelay5xx", "CasefleetRedisErrors", "CasefleetOrderUnknownOutcome",
	"CasefleetRolloutHalted",
}

func TestEveryAlertIsShownFiringAndNotFiring(t *testing.T) {
	rules := alerts(t)
	var rt ruleTests
	readYAML(t, rulesTestFile, &rt)
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range rt.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for _, name := range wantAlerts {
		if rules[name] == "" {
			t.Errorf("no alert rule %s", name)
		}
	}
	for name := range rules {
		if !slices.Contains(wantAlerts, name) {
			t.Errorf("alert %s is not in the list this test knows: add it to wantAlerts", name)
		}
		if !fires[name] {
			t.Errorf("%s is never tested firing", name)
		}
		if !quiet[name] {
			t.Errorf("%s is never tested not firing", name)
		}
	}
}

// panel is the part of a Grafana panel the tests read.
type panel struct {
	ID         int
	Type       string
	Title      string
	Datasource *struct{ Type, UID string }
	GridPos    *struct{ H, W, X, Y int }
	Targets    []struct {
		RefID string
		Expr  string
	}
}

// dashboard reads the Grafana dashboard: it must be valid JSON of a
// dashboard, every panel placed and of a known type, every panel but a
// row with queries on the Prometheus data source the dashboard asks for.
func dashboard(t *testing.T) []panel {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title, UID    string
		SchemaVersion int
		Templating    struct {
			List []struct{ Name, Type, Query string }
		}
		Panels []panel
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" || d.SchemaVersion == 0 || len(d.Panels) == 0 {
		t.Fatalf("%s is not a dashboard: title %q, uid %q, schemaVersion %d, %d panels", dashboardFile, d.Title, d.UID, d.SchemaVersion, len(d.Panels))
	}
	if len(d.Templating.List) != 1 || d.Templating.List[0].Type != "datasource" || d.Templating.List[0].Query != "prometheus" {
		t.Errorf("want one template variable, the Prometheus data source; have %+v", d.Templating.List)
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] || p.ID == 0 {
			t.Errorf("panel %q: id %d is missing or used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Title == "" || p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %d has no title or place", p.ID)
		}
		switch p.Type {
		case "row":
			continue
		case "stat", "table", "timeseries":
		default:
			t.Errorf("panel %q: type %q", p.Title, p.Type)
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: data source %+v, want the dashboard's Prometheus variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			if q.Expr == "" || q.RefID == "" || refs[q.RefID] {
				t.Errorf("panel %q: query %q has no expression or a missing or repeated refId %q", p.Title, q.Expr, q.RefID)
			}
			refs[q.RefID] = true
		}
	}
	return d.Panels
}

// grafanaVars are the Grafana variables the queries may use, and what
// stands for them when the query is checked as PromQL.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// dashboardQueries lists the dashboard's queries as PromQL, by panel title
// and refId.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range dashboard(t) {
		for _, q := range p.Targets {
			expr := grafanaVars.Replace(q.Expr)
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q: query %q uses a variable this test does not know", p.Title, q.Expr)
			}
			out[p.Title+" "+q.RefID] = expr
		}
	}
	return out
}

func TestDashboardQueriesParse(t *testing.T) {
	queries := dashboardQueries(t)
	// promtool checks PromQL in rule files: each query becomes a recording
	// rule of a generated file.
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range queries {
			if !yield(k) {
				return
			}
		}
	}) {
		rules = append(rules, rule{Record: "dashboard:query_" + strings.Map(nameChar, name), Expr: queries[name]})
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := promtool(t, "check", "rules", file)
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules on the dashboard's queries:\n%s\n%s", out, b)
	}
}

// nameChar keeps the characters a metric name may hold.
func nameChar(r rune) rune {
	if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
		return r
	}
	return '_'
}

// casefleetMetric matches a metric name of the agent or the relay. Label
// names and values never start with casefleet_, so these are the metrics a
// query reads.
var casefleetMetric = regexp.MustCompile(`\bcasefleet_(agent|relay)_[a-zA-Z0-9_]+`)

func TestRulesAndDashboardUseOnlyMetricsTheBinariesExport(t *testing.T) {
	exported := exportedNames(t)

	uses := map[string]string{} // where -> PromQL or series
	for name, expr := range alerts(t) {
		uses["alert "+name] = expr
	}
	for name, expr := range dashboardQueries(t) {
		uses["dashboard panel "+name] = expr
	}
	var rt ruleTests
	readYAML(t, rulesTestFile, &rt)
	for _, tc := range rt.Tests {
		for _, s := range tc.InputSeries {
			uses["rule test series "+s.Series] = s.Series
		}
	}
	for where, expr := range uses {
		names := casefleetMetric.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("%s reads no casefleet metric: %s", where, expr)
		}
		for _, n := range names {
			if !exported[n] {
				t.Errorf("%s reads %s, which neither the agent nor the relay exports", where, n)
			}
		}
	}
}

// exportedNames runs a real relay and a real agent (against the printer
// simulator) tunnelled to it, sends a request each way so every family has
// a series, and returns the names of the series both serve at /metrics.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a relay, an agent and the simulator: skipped with -short")
	}
	const code = "CT0700026"
	fleet := relaytest.NewFleet(t)
	cfg := fleet.Config(t)
	// A rollout in force, so that its metrics are exported: an empty
	// releases directory and a rollout file naming a target.
	keys, _, _ := releasetest.Keys(t)
	cfg.ReleasesDir, cfg.ReleasePub = t.TempDir(), filepath.Join(keys, release.PublicKeyFile)
	cfg.Rollout = filepath.Join(t.TempDir(), "rollout.yaml")
	if err := (updates.Rollout{Target: "v1.6.0", Percent: 10}).Save(cfg.Rollout); err != nil {
		t.Fatal(err)
	}
	relay := relaytest.StartRelay(t, cfg)
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{code}})
	acfg := sim.AgentConfig(code, t.TempDir())
	acfg.Relay.URL = relay.URL
	acfg.Relay.Token = fleet.Token(t, code, "mall-3f")
	agent := agenttest.StartAgent(t, acfg)

	status := "/api/chitu/machine/" + code + "/status"
	get := func(url string) int {
		resp, err := http.Get(url)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	testenv.Eventually(t, relaytest.Wait, "the kiosk answers through the relay", func() bool {
		return get(relay.URL+status) == http.StatusOK
	})
	if got := get(agent.URL + status); got != http.StatusOK {
		t.Fatalf("GET %s on the agent's LAN: %d", status, got)
	}

	names := map[string]bool{}
	for _, url := range []string{relay.URL + "/metrics", agent.URL + "/metrics"} {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for name, fam := range promtest.Scrape(t, http.DefaultClient, req) {
			names[name] = true
			switch fam.GetType() {
			case dto.MetricType_HISTOGRAM:
				names[name+"_bucket"], names[name+"_count"], names[name+"_sum"] = true, true, true
			case dto.MetricType_SUMMARY:
				names[name+"_count"], names[name+"_sum"] = true, true
			}
		}
	}
	return names
}
