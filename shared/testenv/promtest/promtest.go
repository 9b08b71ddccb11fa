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
