// Package promtest reads a /metrics answer in tests: the agent's and the
// relay's metrics are checked through what a Prometheus server would see.
package promtest

import (
	"io"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape sends req (a GET of /metrics) with client and parses the text
// format, failing t on any error or a status other than 200.
func Scrape(t testing.TB, client *http.Client, req *http.Request) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", req.URL.Path, resp.Status, b)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	return fams
}

// Value is the value of the first series of name whose labels include
// labels (a histogram's sample count); ok is false when there is none.
func Value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (v float64, ok bool) {
next:
	for _, m := range fams[name].GetMetric() {
		for k, want := range labels {
			if labelOf(m, k) != want {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func labelOf(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}
