package web_test

import (
	"compress/gzip"
	"encoding/json"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"casefleet/agent/push"
	"casefleet/agent/web"
	"casefleet/shared/locale"
)

func newApp(t testing.TB) http.Handler {
	t.Helper()
	h, err := web.Handler(web.Options{MachineCode: "CT0700026", MaxUploadBytes: 15 << 20, MaxPixels: 50_000_000})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func serve(h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// boot extracts the page's start-up JSON.
func boot(t *testing.T, page string) map[string]any {
	t.Helper()
	m := regexp.MustCompile(`(?s)<script type="application/json" id="boot">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no boot JSON in the page")
	}
	var b map[string]any
	if err := json.Unmarshal([]byte(m[1]), &b); err != nil {
		t.Fatalf("boot JSON: %v", err)
	}
	return b
}

func TestEditorPage(t *testing.T) {
	app := newApp(t)
	rec := serve(app, http.MethodGet, "/editor?machine=CT0700026&location=mall-3f", map[string]string{"Accept-Language": "de-CH,de;q=0.9,en;q=0.5"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	page := rec.Body.String()
	if !strings.Contains(page, `<html lang="de" dir="ltr">`) || rec.Header().Get("Content-Language") != "de" {
		t.Errorf("German browser: page starts %.80q", page)
	}
	b := boot(t, page)
	if b["machine"] != "CT0700026" || b["location"] != "mall-3f" || b["lang"] != "de" {
		t.Errorf("boot %v", b)
	}
	if s, _ := b["strings"].(map[string]any); s["pick.title"] != "Wählen Sie Ihr Handy" {
		t.Errorf("the page does not carry the German strings: %v", s["pick.title"])
	}
	csp := rec.Header().Get("Content-Security-Policy")
	nonce := regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(csp)
	if nonce == nil || !strings.Contains(page, `<script type="importmap" nonce="`+nonce[1]+`">`) {
		t.Errorf("the import map is not allowed by the CSP nonce: %s", csp)
	}
	for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("the page may be cached: %q", rec.Header().Get("Cache-Control"))
	}
	zipped := serve(app, http.MethodGet, "/editor?machine=CT0700026", map[string]string{"Accept-Encoding": "gzip"})
	if zipped.Header().Get("Content-Encoding") != "gzip" {
		t.Error("the page is not gzipped for a browser that accepts it")
	} else if zr, err := gzip.NewReader(zipped.Body); err != nil {
		t.Error(err)
	} else if b, _ := io.ReadAll(zr); !strings.HasPrefix(string(b), "<!doctype html>") {
		t.Errorf("the gzipped page unpacks to %.40q", b)
	}

	// Every URL the page names carries ?machine=, so a relay can route it.
	for _, u := range regexp.MustCompile(`/app/[^"'\s)]+`).FindAllString(strings.ReplaceAll(html.UnescapeString(page), `\u0026`, "&"), -1) {
		if !strings.Contains(u, "?machine=CT0700026&v=") {
			t.Errorf("the page names %s without ?machine=", u)
		}
	}
}

// The page speaks the request's language (shared/locale picks it; its
// tests cover the choice) and writes it on the html element with its
// direction.
func TestPageLanguage(t *testing.T) {
	app := newApp(t)
	for _, c := range []struct {
		query, cookie, acceptLanguage string
		want, dir                     string
	}{
		{"", "", "", "en", "ltr"},
		{"", "", "ar-SA,ar;q=0.8,en;q=0.5", "ar", "rtl"},
		{"", "es", "fr", "es", "ltr"},
		{"lang=zh-CN", "es", "fr", "zh-CN", "ltr"},
		{"lang=<script>", "", "de", "de", "ltr"},
	} {
		target := "/editor?machine=CT0700026"
		if c.query != "" {
			target += "&" + c.query
		}
		header := map[string]string{"Accept-Language": c.acceptLanguage}
		if c.cookie != "" {
			header["Cookie"] = "lang=" + c.cookie
		}
		page := serve(app, http.MethodGet, target, header).Body.String()
		if want := `<html lang="` + c.want + `" dir="` + c.dir + `">`; !strings.Contains(page, want) {
			t.Errorf("query %q cookie %q Accept-Language %.40q: page starts %.60q, want %s", c.query, c.cookie, c.acceptLanguage, page, want)
		}
	}
}

func TestUnknownAndMissingMachine(t *testing.T) {
	app := newApp(t)
	// No machine: this kiosk's page, keeping the location.
	rec := serve(app, http.MethodGet, "/editor?location=mall-3f", nil)
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/editor?location=mall-3f&machine=CT0700026" {
		t.Errorf("no machine: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	for _, code := range []string{"CT0799999", "ct0700026", "../../etc", "CT0700026<script>alert(1)</script>", strings.Repeat("A", 5000)} {
		rec := serve(app, http.MethodGet, "/editor?machine="+urlEscape(code)+"&location="+urlEscape(`"><img src=x onerror=alert(1)>`), nil)
		if rec.Code != http.StatusNotFound {
			t.Errorf("machine %.40q: status %d, want 404 with the unknown-machine page", code, rec.Code)
		}
		page := rec.Body.String()
		b := boot(t, page)
		if b["machine"] != "" || len(b["requested"].(string)) > 32 {
			t.Errorf("machine %.40q: boot %v", code, b)
		}
		if _, has := b["location"]; has {
			t.Errorf("a hostile location reached the page: %v", b["location"])
		}
		if strings.Contains(page, "<script>alert") || strings.Contains(page, "onerror=alert") {
			t.Errorf("machine %.40q: hostile input is in the page unescaped", code)
		}
	}
}

func urlEscape(s string) string {
	return strings.NewReplacer("%", "%25", "&", "%26", "#", "%23", "+", "%2B", " ", "%20", "<", "%3C", ">", "%3E", `"`, "%22").Replace(s)
}

func TestAssets(t *testing.T) {
	app := newApp(t)
	page := serve(app, http.MethodGet, "/editor?machine=CT0700026", nil).Body.String()
	css := regexp.MustCompile(`/app/app\.css\?machine=CT0700026&amp;v=([0-9a-f]+)`).FindStringSubmatch(page)
	if css == nil {
		t.Fatal("no stylesheet link")
	}
	hash := css[1]

	versioned := serve(app, http.MethodGet, "/app/app.css?machine=CT0700026&v="+hash, map[string]string{"Accept-Encoding": "gzip, br"})
	if versioned.Code != http.StatusOK || !strings.Contains(versioned.Header().Get("Cache-Control"), "immutable") {
		t.Errorf("a versioned asset: %d %q", versioned.Code, versioned.Header().Get("Cache-Control"))
	}
	if versioned.Header().Get("Content-Encoding") != "gzip" || versioned.Header().Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("headers %v", versioned.Header())
	}
	zr, err := gzip.NewReader(versioned.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !strings.Contains(string(plain), ":root") {
		t.Error("the gzipped stylesheet does not unpack to the stylesheet")
	}

	stale := serve(app, http.MethodGet, "/app/app.css?machine=CT0700026&v=old", nil)
	if stale.Header().Get("Cache-Control") != "no-cache" || stale.Header().Get("Content-Encoding") != "" {
		t.Errorf("an unversioned asset without gzip: %v", stale.Header())
	}
	if rec := serve(app, http.MethodGet, "/app/app.css?machine=CT0700026", map[string]string{"If-None-Match": `"` + hash + `"`}); rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", rec.Code)
	}
	if sw := serve(app, http.MethodGet, "/app/sw.js?machine=CT0700026&v=x", nil); sw.Code != http.StatusOK || sw.Header().Get("Cache-Control") != "no-cache" ||
		sw.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("the service worker: %d %v", sw.Code, sw.Header())
	}
	for _, bad := range []string{"/app/", "/app/nope.js", "/app/../web.go", "/app/static/app.css", "/app/i18n/xx.json", "/app/..%2fweb.go"} {
		if rec := serve(app, http.MethodGet, bad, nil); rec.Code == http.StatusOK {
			t.Errorf("%s: served", bad)
		}
	}
}

// The modules import each other by bare names: each must be in the
// page's import map (or the page breaks in the browser).
func TestEveryImportIsInTheImportMap(t *testing.T) {
	page := serve(newApp(t), http.MethodGet, "/editor?machine=CT0700026", nil).Body.String()
	m := regexp.MustCompile(`(?s)<script type="importmap"[^>]*>(.*?)</script>`).FindStringSubmatch(page)
	var importMap struct{ Imports map[string]string }
	if m == nil || json.Unmarshal([]byte(m[1]), &importMap) != nil {
		t.Fatal("no import map")
	}
	imports := regexp.MustCompile(`(?:from|import\()\s*'([^']+)'`)
	err := fs.WalkDir(os.DirFS("static"), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(path, ".js") {
			return err
		}
		src, err := os.ReadFile(filepath.Join("static", path))
		if err != nil {
			return err
		}
		for _, im := range imports.FindAllStringSubmatch(string(src), -1) {
			if _, ok := importMap.Imports[im[1]]; !ok {
				t.Errorf("%s imports %q, which the import map does not name", path, im[1])
			}
		}
		if name := strings.TrimSuffix(path, ".js"); path != "sw.js" && importMap.Imports["casefleet/"+name] == "" {
			t.Errorf("module %s is not in the import map", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every string is translated: each language has every key of English (a
// plural key needs at least its "other" form), no key English lacks, the
// same {placeholders}, and no text left in English.
func TestEveryStringIsTranslated(t *testing.T) {
	load := func(lang string) map[string]string {
		b, err := os.ReadFile(filepath.Join("static", "i18n", lang+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		return m
	}
	en := load("en")
	plural := regexp.MustCompile(`^(.*)\.(zero|one|two|few|many|other)$`)
	placeholders := func(s string) []string {
		ph := regexp.MustCompile(`\{\w+\}`).FindAllString(s, -1)
		slices.Sort(ph)
		return slices.Compact(ph)
	}
	same := map[string]bool{"pick.price": true} // "{price}" in every language
	for _, l := range locale.Languages() {
		if l.Code == "en" {
			continue
		}
		tr := load(l.Code)
		for key, english := range en {
			if m := plural.FindStringSubmatch(key); m != nil {
				if _, ok := tr[m[1]+".other"]; !ok {
					t.Errorf("%s: no %s.other", l.Code, m[1])
				}
				continue
			}
			got, ok := tr[key]
			switch {
			case !ok:
				t.Errorf("%s: %s is missing", l.Code, key)
			case got == english && !same[key]:
				t.Errorf("%s: %s is still English: %q", l.Code, key, got)
			case !slices.Equal(placeholders(got), placeholders(english)):
				t.Errorf("%s: %s has placeholders %v, English %v", l.Code, key, placeholders(got), placeholders(english))
			}
		}
		for key := range tr {
			base := key
			if m := plural.FindStringSubmatch(key); m != nil {
				base = m[1] + ".other" // the forms a language needs are its own
			}
			if _, ok := en[base]; !ok {
				t.Errorf("%s: %s is not an English key", l.Code, key)
			}
		}
	}
}

// Web Push notices exist in every language of the app.
func TestPushSpeaksTheAppsLanguages(t *testing.T) {
	for _, l := range locale.Languages() {
		if !slices.Contains(push.Languages(), l.Code) {
			t.Errorf("no push notices in %s", l.Code)
		}
	}
}

func FuzzEditorPage(f *testing.F) {
	app := newApp(f)
	f.Add("CT0700026", "mall-3f", "de", "fr-CA,fr;q=0.9")
	f.Add("<script>", `"><svg onload=x>`, "ar", "ar;q=0.5,*")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, machine, location, lang, acceptLanguage string) {
		q := "machine=" + urlEscape(machine) + "&location=" + urlEscape(location) + "&lang=" + urlEscape(lang)
		req := httptest.NewRequest(http.MethodGet, "/editor", nil)
		req.URL.RawQuery = q
		req.Header.Set("Accept-Language", acceptLanguage)
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusNotFound && rec.Code != http.StatusFound {
			t.Fatalf("status %d", rec.Code)
		}
		if rec.Code == http.StatusFound {
			return
		}
		page := rec.Body.String()
		if strings.Count(page, "<script") != 3 {
			t.Fatalf("the page has %d scripts, want 3: input got in", strings.Count(page, "<script"))
		}
		boot(t, page)
	})
}

// Every string the page asks for exists in English (and so, by
// TestEveryStringIsTranslated, in every language).
func TestEveryStringThePageUsesExists(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("static", "i18n", "en.json"))
	if err != nil {
		t.Fatal(err)
	}
	var en map[string]string
	if err := json.Unmarshal(b, &en); err != nil {
		t.Fatal(err)
	}
	var used []string
	sources, _ := filepath.Glob(filepath.Join("static", "*.js"))
	for _, f := range append(sources, "editor.html") {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range []string{
			`\bt\('([\w.]+)'`, `data-i18n="([\w.]+)"`, `aria-label:([\w.]+)`, `label: '([\w.]+)'`, `key: '([\w.]+)'`,
			`\? '(push\.[\w.]+)'`, `t\(has \? '([\w.]+)'`, `: '(design\.helpEmpty)'`, `'(status\.(?:retry|designAgain))'`,
		} {
			for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(string(src), -1) {
				used = append(used, m[1])
			}
		}
		for _, m := range regexp.MustCompile(`\btn\('([\w.]+)'`).FindAllStringSubmatch(string(src), -1) {
			used = append(used, m[1]+".other")
		}
	}
	// Keys built from a kind or a screen.
	for _, kind := range []string{"unknown", "offline", "queue_full", "too_large", "not_image", "rate_limited", "network", "session", "error"} {
		used = append(used, "problem."+kind+".title", "problem."+kind+".text")
	}
	for _, screen := range []string{"queued", "sent", "pay", "paid", "printing", "done", "failed", "cancelled"} {
		used = append(used, "status."+screen+".title", "status."+screen+".text")
	}
	if len(used) < 80 {
		t.Fatalf("found only %d uses of strings: the patterns are out of date", len(used))
	}
	for _, key := range used {
		if _, ok := en[key]; !ok {
			t.Errorf("the page uses %q, which en.json lacks", key)
		}
	}
}
