// Package testenv is what the integration tests of every part share. It
// finds the real services they talk to (Mosquitto, Redis) on loopback:
// where a service does not answer, the test is skipped with a loud
// message, unless CASEFLEET_REQUIRE_SERVICES=1 (set by .ci/run), in which
// case it fails, since on CI every service must be there. It also builds
// and runs the real binaries as processes (Build, StartProcess), finds
// free loopback ports and waits on conditions with a deadline.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
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

// netnsChild marks the copy of a test binary that runs inside the test's
// own network namespace.
const netnsChild = "CASEFLEET_TEST_NETNS_CHILD"

// InOwnNetns runs the calling test again, alone, inside a fresh network
// namespace whose loopback is up and can multicast, so mDNS never touches
// a real interface. It reports whether the caller is that inner run and
// should do the work; the outer run returns false once the inner one has
// passed (or fails the test with its output). It needs root and iproute2,
// as on CI; elsewhere the test is skipped loudly.
func InOwnNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(netnsChild) == "1" {
		return true
	}
	ipPath, err := exec.LookPath("ip")
	if err != nil || os.Geteuid() != 0 {
		msg := "\n*** this test needs root and iproute2 (ip netns) to make a network namespace\n"
		if Required() {
			t.Fatal(msg + "*** " + RequireVar + "=1, so this is a failure")
		}
		t.Skip(msg + "*** SKIPPING this test")
	}
	ns := fmt.Sprintf("casefleet-test-%d-%d", os.Getpid(), time.Now().UnixNano()%100000)
	run := func(args ...string) {
		if out, err := exec.Command(ipPath, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { exec.Command(ipPath, "netns", "del", ns).Run() })
	run("netns", "exec", ns, "ip", "link", "set", "lo", "up", "multicast", "on")
	cmd := exec.Command(ipPath, "netns", "exec", ns, os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsChild+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("inside network namespace %s:\n%s", ns, out)
	if err != nil {
		t.Fatalf("the test failed inside its network namespace: %v", err)
	}
	return false
}
