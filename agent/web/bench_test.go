package web_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// BenchmarkEditorPage serves the page, and reports what a phone downloads
// on its first visit (page, stylesheet, icon and every module, gzipped):
// the number to keep small for a slow phone on a slow network.
func BenchmarkEditorPage(b *testing.B) {
	app := newApp(b)
	gzip := map[string]string{"Accept-Encoding": "gzip", "Accept-Language": "fr"}
	total := serve(app, http.MethodGet, "/editor?machine=CT0700026", gzip).Body.Len()
	page := serve(app, http.MethodGet, "/editor?machine=CT0700026", nil).Body.String()
	for _, u := range regexp.MustCompile(`/app/[^"'\s\\]+`).FindAllString(strings.ReplaceAll(html.UnescapeString(page), `\u0026`, "&"), -1) {
		if strings.Contains(u, "/i18n/") || strings.Contains(u, "sw.js") {
			continue // fetched only on a language switch, or with notifications
		}
		total += serve(app, http.MethodGet, u, gzip).Body.Len()
	}
	for b.Loop() {
		serve(app, http.MethodGet, "/editor?machine=CT0700026", gzip)
	}
	b.ReportMetric(float64(total), "first-visit-bytes")
}
