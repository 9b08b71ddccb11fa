package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// static holds the app's files, served under /app/.
//
//go:embed static
var static embed.FS

// asset is one file of the app, ready to serve.
type asset struct {
	name        string // path under /app/
	contentType string
	body        []byte
	gzipped     []byte // nil when compressing does not pay
	hash        string // of body: the ?v= that makes it cacheable for good
}

// assets are the app's files by name.
type assets map[string]*asset

// loadAssets reads the embedded files once: hashes them, and gzips the
// text ones, so each request only writes bytes.
func loadAssets() (assets, error) {
	out := assets{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(body)
		a := &asset{name: name, contentType: contentType(name), body: body, hash: hex.EncodeToString(sum[:6])}
		if strings.HasPrefix(a.contentType, "text/") || strings.Contains(a.contentType, "json") || strings.Contains(a.contentType, "svg") {
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
			zw.Write(body)
			zw.Close()
			if b.Len() < len(body)*9/10 {
				a.gzipped = b.Bytes()
			}
		}
		out[name] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load web app: %w", err)
	}
	return out, nil
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json":
		return "application/json; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".webmanifest":
		return "application/manifest+json"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// url is where the page fetches the asset for machine: always with
// ?machine=, so the relay can route it, and the content hash.
func (as assets) url(name, machine string) string {
	a := as[name]
	if a == nil {
		panic("web: no asset " + name) // a typo in this package, caught by its tests
	}
	return "/app/" + name + "?machine=" + machine + "&v=" + a.hash
}

// serve writes the asset named by the request path.
func (as assets) serve(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/app/")
	a := as[name]
	if a == nil || name == "" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+a.hash+`"`)
	h.Set("Vary", "Accept-Encoding")
	switch {
	case name == "sw.js":
		// A service worker must update when the app does.
		h.Set("Cache-Control", "no-cache")
	case r.URL.Query().Get("v") == a.hash:
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	default:
		h.Set("Cache-Control", "no-cache")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, `"`+a.hash+`"`) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gzipped != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = a.gzipped
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && !strings.Contains(strings.ReplaceAll(params, " ", ""), "q=0") {
			return true
		}
	}
	return false
}
