//go:build unix

package config

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"casefleet/shared/testenv"
)

// enroll runs as root on a file the service's user must keep reading.
func TestSetKeysKeepsOwnerAndMode(t *testing.T) {
	if os.Geteuid() != 0 {
		msg := "needs root to own a file as another user"
		if testenv.Required() {
			t.Fatal(msg + " (CI runs as root)")
		}
		t.Skip(msg)
	}
	path := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(path, []byte("machine:\n  name: x\n"), 0o640)
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := SetKeys(path, map[string]string{"relay.token": "t"}); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(path)
	st := info.Sys().(*syscall.Stat_t)
	if st.Uid != 65534 || st.Gid != 65534 || info.Mode().Perm() != 0o640 {
		t.Fatalf("owner %d:%d mode %v, want 65534:65534 0640", st.Uid, st.Gid, info.Mode().Perm())
	}
}
