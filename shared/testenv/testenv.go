// Package testenv finds the real services that integration tests talk to
// (Mosquitto, Redis) on loopback. Where a service does not answer, the test
// is skipped with a loud message, unless CASEFLEET_REQUIRE_SERVICES=1 (set
// by .ci/run), in which case it fails: on CI every service must be there.
package testenv

import (
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// RequireVar is the environment variable that turns a skip into a failure.
const RequireVar = "CASEFLEET_REQUIRE_SERVICES"

// MosquittoAddr is the host:port of the local Mosquitto broker
// (CASEFLEET_TEST_MQTT overrides it).
func MosquittoAddr(t testing.TB) string {
	t.Helper()
	return need(t, "Mosquitto", envOr("CASEFLEET_TEST_MQTT", "127.0.0.1:1883"),
		"mosquitto -d -c /etc/mosquitto/mosquitto.conf")
}

// RedisAddr is the host:port of the local Redis server
// (CASEFLEET_TEST_REDIS overrides it).
func RedisAddr(t testing.TB) string {
	t.Helper()
	return need(t, "Redis", envOr("CASEFLEET_TEST_REDIS", "127.0.0.1:6379"),
		"redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no")
}

// Required reports whether missing services must fail tests.
func Required() bool { return os.Getenv(RequireVar) == "1" }

func need(t testing.TB, name, addr, start string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		conn.Close()
		return addr
	}
	msg := "\n*** " + name + " does not answer on " + addr + ": " + err.Error() +
		"\n*** start it with: " + start + "\n"
	if Required() {
		t.Fatal(msg + "*** " + RequireVar + "=1, so this is a failure")
	}
	t.Skip(msg + "*** SKIPPING this test (set " + RequireVar + "=1 to make it fail)")
	return ""
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// MosquittoBinary is the path of the mosquitto broker binary, for tests
// that run (and restart) a broker of their own.
func MosquittoBinary(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "\n*** the mosquitto binary is not installed (apt-get install mosquitto)\n"
	if Required() {
		t.Fatal(msg + "*** " + RequireVar + "=1, so this is a failure")
	}
	t.Skip(msg + "*** SKIPPING this test (set " + RequireVar + "=1 to make it fail)")
	return ""
}
