package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"casefleet/shared/testenv"
)

// Pebble, Let's Encrypt's test ACME server, and its DNS server
// (pebble-challtestsrv) for the HTTPS tests: built from scripts/acmepebble,
// a module of its own at an exact version, into a cache kept between runs
// (keyed by that module's go.mod and go.sum), and run on loopback only.

const pebbleModule = "../../scripts/acmepebble"

// pebbleBins are the two binaries and Pebble's module directory (for its
// test certificates).
type pebbleBins struct {
	pebble, challtestsrv, moduleDir string
}

var (
	pebbleOnce  sync.Once
	pebbleBuilt pebbleBins
	pebbleErr   error
)

// buildPebble builds Pebble once per run, or takes it from the cache.
func buildPebble(t *testing.T) pebbleBins {
	t.Helper()
	pebbleOnce.Do(func() { pebbleBuilt, pebbleErr = buildPebbleCached() })
	if pebbleErr != nil {
		msg := "\n*** Pebble does not build (it needs the Go module proxy or the module cache): " + pebbleErr.Error() + "\n"
		if testenv.Required() {
			t.Fatal(msg + "*** " + testenv.RequireVar + "=1, so this is a failure")
		}
		t.Skip(msg + "*** SKIPPING this test (set " + testenv.RequireVar + "=1 to make it fail)")
	}
	return pebbleBuilt
}

func buildPebbleCached() (pebbleBins, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(pebbleModule, f))
		if err != nil {
			return pebbleBins{}, err
		}
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "casefleet-test", "acmepebble-"+hex.EncodeToString(h.Sum(nil))[:16])
	bins := pebbleBins{pebble: filepath.Join(dir, "pebble"), challtestsrv: filepath.Join(dir, "pebble-challtestsrv")}
	// Downloaded if it is not in the module cache yet; its folder holds
	// the certificates of Pebble's own HTTPS.
	out, err := goIn(pebbleModule, "mod", "download", "-json", "github.com/letsencrypt/pebble/v2")
	if err != nil {
		return pebbleBins{}, err
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal([]byte(out), &mod); err != nil || mod.Dir == "" {
		return pebbleBins{}, fmt.Errorf("go mod download: no folder for Pebble's module in %q: %v", out, err)
	}
	bins.moduleDir = mod.Dir
	if _, err := os.Stat(bins.challtestsrv); err == nil {
		if _, err := os.Stat(bins.pebble); err == nil {
			return bins, nil
		}
	}
	// Build beside the cache and rename into it, so that a build cut
	// short never leaves half a cache.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return pebbleBins{}, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "build-")
	if err != nil {
		return pebbleBins{}, err
	}
	defer os.RemoveAll(tmp)
	if _, err := goIn(pebbleModule, "build", "-o", tmp+string(filepath.Separator),
		"github.com/letsencrypt/pebble/v2/cmd/pebble", "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv"); err != nil {
		return pebbleBins{}, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(bins.pebble); serr != nil { // not a concurrent run that won
			return pebbleBins{}, err
		}
	}
	return bins, nil
}

func goIn(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out), nil
}

// pebble is a running Pebble with its DNS server, which answers 127.0.0.1
// for every name: Pebble validates challenges on loopback, at the ports it
// was given.
type pebble struct {
	dirURL  string         // the ACME directory
	caRoot  string         // PEM file: the root of Pebble's own HTTPS (acme_ca_root)
	roots   *x509.CertPool // the root Pebble issues under (new at each start)
	rootPEM []byte
	proc    *testenv.Process
}

// startPebble runs Pebble validating HTTP-01 on httpPort and TLS-ALPN-01
// on tlsPort, issuing certificates valid for validity.
func startPebble(t *testing.T, httpPort, tlsPort int, validity time.Duration) *pebble {
	t.Helper()
	bins := buildPebble(t)
	dns := testenv.FreeAddr(t)
	testenv.StartProcess(t, "pebble-challtestsrv", bins.challtestsrv, nil,
		"-dnsserver", dns, "-management", testenv.FreeAddr(t), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "")

	listen, mgmt := testenv.FreeAddr(t), testenv.FreeAddr(t)
	certs := filepath.Join(bins.moduleDir, "test", "certs")
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":                  listen,
		"managementListenAddress":        mgmt,
		"certificate":                    filepath.Join(certs, "localhost", "cert.pem"),
		"privateKey":                     filepath.Join(certs, "localhost", "key.pem"),
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"retryAfter":                     map[string]int{"authz": 0, "order": 0},
		"keyAlgorithm":                   "ecdsa",
		"profiles": map[string]any{"default": map[string]any{
			"description": "short-lived, so that renewal shows within the test", "validityPeriod": int(validity.Seconds()),
		}},
	}}
	b, _ := json.Marshal(conf)
	confFile := filepath.Join(t.TempDir(), "pebble.json")
	if err := os.WriteFile(confFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	p := &pebble{dirURL: "https://" + listen + "/dir", caRoot: filepath.Join(certs, "pebble.minica.pem")}
	p.proc = testenv.StartProcess(t, "pebble", bins.pebble, []string{
		"PEBBLE_VA_NOSLEEP=1",      // validate at once
		"PEBBLE_WFE_NONCEREJECT=0", // no random bad nonces
		"PEBBLE_AUTHZREUSE=0",      // every order validates anew
	}, "-config", confFile, "-dnsserver", dns)

	mini, err := os.ReadFile(p.caRoot)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(mini)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	testenv.Eventually(t, 15*time.Second, "Pebble answers", func() bool {
		resp, err := client.Get("https://" + mgmt + "/roots/0")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		p.rootPEM, err = io.ReadAll(resp.Body)
		return err == nil && resp.StatusCode == 200
	})
	p.roots = x509.NewCertPool()
	if !p.roots.AppendCertsFromPEM(p.rootPEM) {
		t.Fatalf("Pebble's root is not PEM: %q", p.rootPEM)
	}
	return p
}

// domainProxy is an HTTP proxy on loopback that tunnels (CONNECT) only
// to domain, which it finds at 127.0.0.1: how the agent and the phone
// reach relay.example.com here without DNS or /etc/hosts. Anything else
// is refused.
func domainProxy(t *testing.T, domain string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, port, err := net.SplitHostPort(r.Host)
		if r.Method != http.MethodConnect || err != nil || !strings.EqualFold(host, domain) {
			http.Error(w, "this proxy reaches only "+domain, http.StatusForbidden)
			return
		}
		up, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), 5*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		rw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
		rw.Flush()
		go func() {
			io.Copy(up, rw) // what the client sent with its CONNECT, then the rest
			up.Close()
		}()
		io.Copy(conn, up)
		conn.Close()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// tlsClient reaches domain at 127.0.0.1 over TLS trusting only roots.
func tlsClient(domain string, roots *x509.CertPool) *http.Client {
	dialer := &net.Dialer{Timeout: 2 * time.Second}
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: domain},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// servedCert is the certificate the relay at addr serves for domain,
// verified against roots (an error if it does not verify).
func servedCert(addr, domain string, roots *x509.CertPool) (*x509.Certificate, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: &tls.Config{RootCAs: roots, ServerName: domain}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

func portNum(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
