package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casefleet/agent/printfile"
	"casefleet/agent/queue"
)

// FileStore keeps print files on disk under unguessable names. A file is
// written to a temporary name, synced and renamed, so a name that exists
// always holds a whole file.
type FileStore struct {
	dir string
}

// NewFileStore uses (and creates) dir.
func NewFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("print file directory: %w", err)
	}
	return &FileStore{dir: dir}, nil
}

// tokenLen is the hex length of a file token: 128 random bits.
const tokenLen = 32

// Create writes a new file with extension ext (".tif" or ".png") through write and
// returns its name.
func (f *FileStore) Create(ext string, write func(io.Writer) error) (string, error) {
	var raw [tokenLen / 2]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	name := hex.EncodeToString(raw[:]) + ext
	tmp, err := os.CreateTemp(f.dir, ".tmp-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := write(tmp); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(f.dir, name)); err != nil {
		return "", err
	}
	if d, err := os.Open(f.dir); err == nil {
		_ = d.Sync() // make the rename itself durable
		d.Close()
	}
	return name, nil
}

// Open opens the file called name.
func (f *FileStore) Open(name string) (*os.File, error) {
	if !validFileName(name) {
		return nil, os.ErrNotExist
	}
	return os.Open(filepath.Join(f.dir, name))
}

// Remove deletes the file called name.
func (f *FileStore) Remove(name string) error {
	if !validFileName(name) {
		return os.ErrNotExist
	}
	return os.Remove(filepath.Join(f.dir, name))
}

// Sweep removes files last written before cutoff for which keep reports
// false, and temporary files of writes that never finished. It returns how
// many files it removed.
func (f *FileStore) Sweep(cutoff time.Time, keep func(name string) bool) (int, error) {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || !info.ModTime().Before(cutoff) {
			continue
		}
		name := e.Name()
		if !strings.HasPrefix(name, ".tmp-") && (!validFileName(name) || keep(name)) {
			continue
		}
		if err := os.Remove(filepath.Join(f.dir, name)); err == nil {
			removed++
		}
	}
	return removed, nil
}

// validFileName accepts only names Create makes: hex token plus extension.
func validFileName(name string) bool {
	token, ext, ok := strings.Cut(name, ".")
	if !ok || len(token) != tokenLen || (ext != "tif" && ext != "png") {
		return false
	}
	for _, c := range token {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// printFile serves a print file to the machine. The first fetch is
// recorded on the order: it proves the machine received the order.
func (s *Server) printFile(w http.ResponseWriter, r *http.Request) {
	if err := s.checkMachine(r.PathValue("code")); err != nil {
		writeError(w, s.log, err)
		return
	}
	name := r.PathValue("file")
	o, found, err := s.opt.Queue.FindByPrintFile(name)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	f, err := s.opt.Files.Open(name)
	if !found || err != nil {
		writeError(w, s.log, newError(http.StatusNotFound, "unknown_file", "There is no such print file."))
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	if r.Method == http.MethodGet && o.FetchedAt == nil && !o.Status.Terminal() {
		now := time.Now()
		if _, err := s.opt.Queue.Update(o.ID, func(o *queue.Order) error {
			if o.FetchedAt == nil {
				o.FetchedAt = &now
			}
			return nil
		}); err != nil {
			s.log.Warn("record print file fetch", "order", o.ID, "err", err)
		}
		s.log.Info("machine fetched the print file", "order", o.ID)
	}
	format := printfile.TIFF
	if strings.HasSuffix(name, printfile.PNG.Ext()) {
		format = printfile.PNG
	}
	w.Header().Set("Content-Type", format.ContentType())
	w.Header().Set("Cache-Control", "private, no-store")
	http.ServeContent(w, r, "", info.ModTime(), f)
}
