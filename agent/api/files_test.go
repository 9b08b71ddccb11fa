package api

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFileStoreSweepKeepsWhatIsStillNeeded(t *testing.T) {
	dir := t.TempDir()
	fs, err := NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	write := func() string {
		name, err := fs.Create(".tif", func(w io.Writer) error { _, err := w.Write([]byte("II*\x00")); return err })
		if err != nil {
			t.Fatal(err)
		}
		return name
	}
	old, oldButNeeded, fresh := write(), write(), write()
	stale := filepath.Join(dir, ".tmp-123")
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-30 * 24 * time.Hour)
	for _, p := range []string{filepath.Join(dir, old), filepath.Join(dir, oldButNeeded), stale} {
		if err := os.Chtimes(p, long, long); err != nil {
			t.Fatal(err)
		}
	}
	n, err := fs.Sweep(time.Now().Add(-7*24*time.Hour), func(name string) bool { return name == oldButNeeded })
	if err != nil || n != 2 {
		t.Fatalf("Sweep removed %d (%v), want 2 (the old file and the stale temporary)", n, err)
	}
	for name, want := range map[string]bool{old: false, oldButNeeded: true, fresh: true, ".tmp-123": false} {
		_, err := os.Stat(filepath.Join(dir, name))
		if (err == nil) != want {
			t.Errorf("%s exists=%v, want %v", name, err == nil, want)
		}
	}
	if !strings.HasSuffix(fresh, ".tif") || !validFileName(fresh) {
		t.Fatalf("Create made %q", fresh)
	}
}
