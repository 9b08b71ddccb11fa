package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"casefleet/agent/agenttest"
	"casefleet/relay/relaytest"
	"casefleet/shared/testenv"
	"casefleet/shared/testenv/chromium"
)

// The relay serving HTTPS by itself (docs/relay-https.md), as the real
// binary: a certificate from an ACME CA (Pebble, on loopback) by HTTP-01
// and by TLS-ALPN-01, renewed before it expires, kept in its cache; one's
// own certificate, reloaded; plain HTTP sent to HTTPS; and the settings an
// operator can get wrong.

const httpsDomain = "relay.example.com"

// tlsRelay is the command line of a relay serving HTTPS for httpsDomain on
// httpsAddr, with a certificate from the ACME CA at p.
func tlsRelay(f *relaytest.Fleet, p *pebble, httpsAddr, httpAddr, cache string, extra ...string) []string {
	_, port, _ := net.SplitHostPort(httpsAddr)
	return append([]string{"run", "--listen", httpsAddr, "--http-listen", httpAddr,
		"--tls-domain", httpsDomain, "--acme-ca", p.dirURL, "--acme-ca-root", p.caRoot, "--acme-email", "ops@example.com",
		"--tls-cache-dir", cache, "--tls-renew-check", "1s",
		"--fleet-pub", f.PubFile, "--public-url", "https://" + httpsDomain + ":" + port,
		"--keepalive", "5s", "--rate-ip", "0", "--rate-session", "0", "--log-level", "debug"}, extra...)
}

// waitCert waits until the relay at addr serves a certificate for
// httpsDomain that verifies against roots, and returns it.
func waitCert(t *testing.T, relay *testenv.Process, addr string, roots *x509.CertPool, within time.Duration) *x509.Certificate {
	t.Helper()
	var cert *x509.Certificate
	testenv.Poll(t, within, 50*time.Millisecond, "the relay serves a certificate for "+httpsDomain+" from Pebble", func() bool {
		select {
		case <-relay.Done():
			t.Fatalf("the relay exited: %s", relay.Tail(30))
		default:
		}
		c, err := servedCert(addr, httpsDomain, roots)
		cert = c
		return err == nil
	})
	return cert
}

// TestHTTPSByACME: the relay gets its certificate from an ACME CA by
// either challenge, renews it before it expires, and a phone trusting the
// CA's root opens the editor through it from a real agent, over HTTPS
// end to end (agent to relay too). Restarted with the CA gone, it serves
// the certificate in its cache.
func TestHTTPSByACME(t *testing.T) {
	httpsAddr, httpAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	const validity = 30 * time.Second
	p := startPebble(t, portNum(t, httpAddr), portNum(t, httpsAddr), validity)
	f := relaytest.NewFleet(t)

	for _, tc := range []struct{ name, challenge, httpListen string }{
		{"HTTP-01 on http_listen", "http-01", httpAddr},
		{"TLS-ALPN-01 on listen, without plain HTTP", "tls-alpn-01", "off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tlsRelay(f, p, httpsAddr, tc.httpListen, t.TempDir(), "--acme-challenges", tc.challenge)
			relay := testenv.StartProcess(t, "relay "+tc.challenge, relayBin, nil, args...)
			defer relay.Kill()
			start := time.Now()
			cert := waitCert(t, relay, httpsAddr, p.roots, 20*time.Second)
			t.Logf("%s: first certificate served %v after the relay started (serial %x, valid until %s)",
				tc.challenge, time.Since(start).Round(time.Millisecond), cert.SerialNumber, cert.NotAfter.Format(time.TimeOnly))
			if got := relay.Count("TLS certificate obtained"); got == 0 {
				t.Errorf("the relay does not log the certificate it obtained")
			}
			if tc.httpListen == "off" {
				if c, err := net.DialTimeout("tcp", httpAddr, time.Second); err == nil {
					c.Close()
					t.Errorf("http_listen off, yet %s answers", httpAddr)
				}
			}
		})
	}

	// The settings an operator gives: both challenges, plain HTTP on.
	cache := t.TempDir()
	relay := testenv.StartProcess(t, "relay", relayBin, nil, tlsRelay(f, p, httpsAddr, httpAddr, cache)...)
	start := time.Now()
	first := waitCert(t, relay, httpsAddr, p.roots, 20*time.Second)
	t.Logf("first certificate served %v after the relay started", time.Since(start).Round(time.Millisecond))
	if len(first.DNSNames) != 1 || first.DNSNames[0] != httpsDomain {
		t.Errorf("certificate names %v, want [%s]", first.DNSNames, httpsDomain)
	}
	base := "https://" + httpsDomain + ":" + strconv.Itoa(portNum(t, httpsAddr))
	client := tlsClient(httpsDomain, p.roots)

	t.Run("plain HTTP redirects to HTTPS", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+httpAddr+"/api/chitu/machine/CT0700026/print?x=1", nil)
		req.Host = httpsDomain
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		drain(resp)
		if want := base + "/api/chitu/machine/CT0700026/print?x=1"; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
			t.Errorf("POST over plain HTTP = %d to %q, want 308 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
		}
	})

	t.Run("renewed before it expires", func(t *testing.T) {
		var renewed *x509.Certificate
		testenv.Poll(t, validity+10*time.Second, 100*time.Millisecond, "a renewed certificate served", func() bool {
			c, err := servedCert(httpsAddr, httpsDomain, p.roots)
			if err != nil {
				t.Fatalf("while waiting for the renewal, a handshake failed: %v", err)
			}
			renewed = c
			return c.SerialNumber.Cmp(first.SerialNumber) != 0
		})
		seen := time.Now()
		if !seen.Before(first.NotAfter) {
			t.Errorf("the renewed certificate came at %s, after the first expired (%s)", seen.Format(time.TimeOnly), first.NotAfter.Format(time.TimeOnly))
		}
		t.Logf("renewed %v after the first was issued, %v before it expired (lifetime %v); new serial %x",
			seen.Sub(first.NotBefore).Round(time.Millisecond), first.NotAfter.Sub(seen).Round(time.Millisecond), validity, renewed.SerialNumber)
		testenv.Eventually(t, 5*time.Second, "the relay logs the renewal", func() bool { return relay.Count("TLS certificate renewed") > 0 })
	})

	// A real agent tunnels to the relay over HTTPS, trusting Pebble's root
	// (SSL_CERT_FILE) and finding relay.example.com through a proxy on
	// loopback; plain http:// to that name it refuses (shared/tunnel).
	proxy := domainProxy(t, httpsDomain)
	rootFile := filepath.Join(t.TempDir(), "pebble-root.pem")
	if err := os.WriteFile(rootFile, p.rootPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	const code = "CT0700026"
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{code}})
	bin := t.TempDir()
	if err := testenv.Build(bin, "casefleet/agent/cmd/casefleet-agent"); err != nil {
		t.Fatal(err)
	}
	agentEnv := func(relayURL string) []string {
		return []string{
			"CASEFLEET_MACHINE_CODE=" + code, "CASEFLEET_MACHINE_NAME=HTTPS kiosk", "CASEFLEET_MACHINE_LOCATION=lab",
			"CASEFLEET_DATA_DIR=" + t.TempDir(), "CASEFLEET_LAN_LISTEN=" + testenv.FreeAddr(t), "CASEFLEET_LAN_INTERFACES=lo",
			"CASEFLEET_CHITU_BASE_URL=" + sim.URL, "CASEFLEET_CHITU_APP_ID=" + agenttest.AppID,
			"CASEFLEET_CHITU_APP_SECRET=" + agenttest.AppSecret, "CASEFLEET_CHITU_MQTT_URL=" + sim.MQTTURL,
			"CASEFLEET_CHITU_MQTT_PASSWORD=" + agenttest.MQTTPassword, "CASEFLEET_CHITU_POLL_INTERVAL=300ms",
			"CASEFLEET_RELAY_URL=" + relayURL, "CASEFLEET_RELAY_TOKEN=" + f.Token(t, code, "lab"),
			"HTTPS_PROXY=http://" + proxy, "SSL_CERT_FILE=" + rootFile, "CASEFLEET_LOG_LEVEL=debug",
		}
	}
	t.Run("an agent refuses plain http:// to the relay's name", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "casefleet-agent"), "run")
		cmd.Env = append(os.Environ(), agentEnv("http://"+httpsDomain+":"+strconv.Itoa(portNum(t, httpAddr)))...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "plain http") {
			t.Errorf("agent with relay.url http://%s: %v\n%s", httpsDomain, err, out)
		}
	})
	testenv.StartProcess(t, "agent", filepath.Join(bin, "casefleet-agent"), agentEnv(base), "run")
	testenv.Poll(t, 30*time.Second, 100*time.Millisecond, "the agent's machine answers through the relay over HTTPS", func() bool {
		resp, err := client.Get(base + api + code + "/status")
		if err != nil {
			return false
		}
		drain(resp)
		return resp.StatusCode == http.StatusOK
	})

	t.Run("a phone trusting the CA's root opens the editor", func(t *testing.T) {
		phoneOpensEditor(t, p.rootPEM, proxy, base+"/editor?machine="+code+"&location=lab")
	})

	t.Run("restarted with the CA gone, it serves the certificate in its cache", func(t *testing.T) {
		last, err := servedCert(httpsAddr, httpsDomain, p.roots)
		if err != nil {
			t.Fatal(err)
		}
		p.proc.Kill()
		relay.Kill()
		relay.Start(t)
		got := waitCert(t, relay, httpsAddr, p.roots, 10*time.Second)
		if got.SerialNumber.Cmp(last.SerialNumber) != 0 && got.NotBefore.Before(last.NotBefore) {
			t.Errorf("after the restart the relay serves serial %x, older than %x", got.SerialNumber, last.SerialNumber)
		}
	})
}

// phoneOpensEditor opens url in Debian's Chromium, which trusts rootPEM
// through an NSS database in its own HOME (as a user's added root) and
// reaches the relay's name through proxy: no certificate error is ignored.
func phoneOpensEditor(t *testing.T, rootPEM []byte, proxy, url string) {
	path := chromium.Path(t)
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		msg := "\n*** certutil is not installed (apt-get install -y libnss3-tools)\n"
		if testenv.Required() {
			t.Fatal(msg + "*** " + testenv.RequireVar + "=1, so this is a failure")
		}
		t.Skip(msg + "*** SKIPPING this browser test (set " + testenv.RequireVar + "=1 to make it fail)")
	}
	home := t.TempDir()
	nssdb := filepath.Join(home, ".pki", "nssdb")
	root := filepath.Join(home, "root.pem")
	if err := os.MkdirAll(nssdb, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root, rootPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-d", "sql:" + nssdb, "-N", "--empty-password"},
		{"-d", "sql:" + nssdb, "-A", "-t", "C,,", "-n", "Pebble test root", "-i", root},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	opts := append(chromium.Options(path, t.TempDir()), chromedp.ProxyServer("http://"+proxy), chromedp.Env("HOME="+home))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, stop := context.WithTimeout(ctx, time.Minute)
	defer stop()
	start := time.Now()
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(url),
	); err != nil {
		t.Fatalf("open %s: %v (a certificate error here means Chromium does not trust Pebble's root)", url, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`!document.getElementById('v-pick').hidden`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		text, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("the editor does not show the phone models: %v\npage: %.400s", err, text)
	}
	secure, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`location.protocol === 'https:' && window.isSecureContext`))
	if err != nil || !secure {
		t.Errorf("the editor is not a secure context over HTTPS: %v %v", secure, err)
	}
	t.Logf("the phone shows the phone models %v after opening the link", time.Since(start).Round(time.Millisecond))
}

// TestHTTPSWithOwnCertificate: tls_cert and tls_key serve one's own
// certificate; a new pair is taken on SIGHUP and when the files change, a
// pair that does not load is refused and the previous one kept.
func TestHTTPSWithOwnCertificate(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "relay.crt"), filepath.Join(dir, "relay.key")
	ca.issue(t, certFile, keyFile)
	f := relaytest.NewFleet(t)
	httpsAddr, httpAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	relay := testenv.StartProcess(t, "relay", relayBin, nil, "run", "--listen", httpsAddr, "--http-listen", httpAddr,
		"--tls-cert", certFile, "--tls-key", keyFile, "--tls-renew-check", "100ms", "--fleet-pub", f.PubFile, "--log-level", "debug")
	first := waitCert(t, relay, httpsAddr, ca.pool, 10*time.Second)
	client := tlsClient(httpsDomain, ca.pool)
	resp, err := client.Get("https://" + httpsDomain + ":" + strconv.Itoa(portNum(t, httpsAddr)) + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /readyz over HTTPS: %v %v", resp, err)
	}
	drain(resp)
	req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/healthz", nil)
	req.Host = httpsDomain + ":80"
	if resp, err := client.Do(req); err != nil || resp.StatusCode != http.StatusPermanentRedirect ||
		resp.Header.Get("Location") != "https://"+httpsDomain+":"+strconv.Itoa(portNum(t, httpsAddr))+"/healthz" {
		t.Errorf("plain HTTP: %v %v, want a 308 to the same host on the HTTPS port", resp, err)
	} else {
		drain(resp)
	}

	serving := func(not *x509.Certificate, what string) *x509.Certificate {
		t.Helper()
		var c *x509.Certificate
		testenv.Eventually(t, 10*time.Second, what, func() bool {
			var err error
			c, err = servedCert(httpsAddr, httpsDomain, ca.pool)
			return err == nil && c.SerialNumber.Cmp(not.SerialNumber) != 0
		})
		return c
	}
	// The renewal of a certificate bought elsewhere: new files, SIGHUP.
	// (The poll would find them too; SIGHUP is at once.)
	ca.issue(t, certFile, keyFile)
	relay.Signal(syscall.SIGHUP)
	second := serving(first, "the new certificate served after SIGHUP")

	// A pair that does not load: logged, and the previous one stays.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	relay.Signal(syscall.SIGHUP)
	testenv.Eventually(t, 10*time.Second, "the bad certificate logged", func() bool {
		return relay.Count("TLS certificate does not load; keeping the previous one") >= 1
	})
	if c, err := servedCert(httpsAddr, httpsDomain, ca.pool); err != nil || c.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Errorf("after a bad certificate file: %v, %v; want the previous certificate", c, err)
	}

	// Files replaced, no signal: found by the check every tls_renew_check.
	ca.issue(t, certFile, keyFile)
	serving(second, "the new certificate served after the files changed")
}

// TestHTTPSWithTheCAUnreachable: a relay whose ACME CA does not answer
// at start still starts (so that systemd does not restart it in a loop,
// and a cached certificate would go on serving): it says why it has no
// certificate and tries again, plain HTTP redirects, and HTTPS handshakes
// fail until a certificate is there.
func TestHTTPSWithTheCAUnreachable(t *testing.T) {
	f := relaytest.NewFleet(t)
	httpsAddr, httpAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	relay := testenv.StartProcess(t, "relay", relayBin, nil, "run", "--listen", httpsAddr, "--http-listen", httpAddr,
		"--tls-domain", httpsDomain, "--acme-ca", "https://"+testenv.FreeAddr(t)+"/dir", "--tls-cache-dir", t.TempDir(),
		"--fleet-pub", f.PubFile)
	testenv.Eventually(t, 20*time.Second, "the relay logs that the CA does not answer", func() bool {
		return relay.Count("TLS certificate not obtained from the ACME CA; trying again later") > 0
	})
	select {
	case <-relay.Done():
		t.Fatalf("the relay exited: %s", relay.Tail(20))
	default:
	}
	client := tlsClient(httpsDomain, x509.NewCertPool())
	req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/readyz", nil)
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != http.StatusPermanentRedirect {
		t.Fatalf("plain HTTP without a certificate yet: %v %v, want a 308", resp, err)
	}
	drain(resp)
	if _, err := servedCert(httpsAddr, httpsDomain, x509.NewCertPool()); err == nil || !strings.Contains(err.Error(), "internal error") && !strings.Contains(err.Error(), "handshake") {
		t.Errorf("an HTTPS handshake without a certificate: %v, want it refused", err)
	}
}

// TestHTTPSRefusesBadSettings: each mistake stops `run` at once, naming
// the setting.
func TestHTTPSRefusesBadSettings(t *testing.T) {
	f := relaytest.NewFleet(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unreadable := filepath.Join(dir, "missing.pem")
	ca := newTestCA(t)
	certFile, keyFile := filepath.Join(dir, "relay.crt"), filepath.Join(dir, "relay.key")
	ca.issue(t, certFile, keyFile)
	listen := []string{"run", "--fleet-pub", f.PubFile, "--listen", testenv.FreeAddr(t), "--http-listen", testenv.FreeAddr(t)}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"tls_cert without tls_key", []string{"--tls-cert", certFile}, "tls_cert/tls_key: give both"},
		{"tls_key without tls_cert", []string{"--tls-key", keyFile}, "tls_cert/tls_key: give both"},
		{"a garbage certificate", []string{"--tls-cert", garbage, "--tls-key", keyFile}, "tls_cert " + garbage},
		{"an unreadable certificate", []string{"--tls-cert", unreadable, "--tls-key", keyFile}, "no such file"},
		{"a key of another certificate", []string{"--tls-cert", certFile, "--tls-key", ca.keyFile}, "private key does not match"},
		{"tls_domain with tls_cert", []string{"--tls-domain", httpsDomain, "--tls-cert", certFile, "--tls-key", keyFile}, "tls_domain: is set together with tls_cert/tls_key"},
		{"a URL for a domain", []string{"--tls-domain", "https://relay.example.com"}, "tls_domain:"},
		{"a domain with a port", []string{"--tls-domain", "relay.example.com:443"}, "tls_domain:"},
		{"an address for a domain", []string{"--tls-domain", "203.0.113.7"}, "is an address"},
		{"a single-label domain", []string{"--tls-domain", "relay"}, "fully qualified"},
		{"a wildcard", []string{"--tls-domain", "*.example.com"}, "tls_domain:"},
		{"a local name for Let's Encrypt", []string{"--tls-domain", "relay.lan"}, "local name"},
		{"an acme_ca over plain http", []string{"--tls-domain", httpsDomain, "--acme-ca", "http://127.0.0.1:14000/dir"}, "acme_ca:"},
		{"an acme_ca that is no URL", []string{"--tls-domain", httpsDomain, "--acme-ca", "letsencrypt"}, "acme_ca:"},
		{"an acme_ca_root that is no PEM", []string{"--tls-domain", httpsDomain, "--acme-ca-root", garbage, "--tls-cache-dir", t.TempDir()}, "acme_ca_root:"},
		{"an unknown challenge", []string{"--tls-domain", httpsDomain, "--acme-challenges", "dns-01"}, "acme_challenges:"},
		{"http-01 without plain HTTP", []string{"--tls-domain", httpsDomain, "--acme-challenges", "http-01", "--http-listen", "off"}, "http_listen is off"},
		{"http_listen without TLS", []string{}, "http_listen: is set, but the relay serves no HTTPS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runRelay(t, nil, append(append([]string{}, listen...), tc.args...)...)
			if code != 1 || !strings.Contains(out, tc.want) {
				t.Errorf("casefleet-relay %s: exit %d, output:\n%s\nwant exit 1 and %q", strings.Join(tc.args, " "), code, out, tc.want)
			}
		})
	}
}

// testCA is a certificate authority of the test's, for own certificates.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	pool    *x509.CertPool
	keyFile string // the CA's own key, as a key that matches no relay certificate
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "casefleet test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, pool: x509.NewCertPool(), keyFile: filepath.Join(t.TempDir(), "ca.key")}
	ca.pool.AddCert(cert)
	writeKey(t, ca.keyFile, key)
	return ca
}

// issue writes a new certificate for httpsDomain and its key.
func (ca *testCA) issue(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: httpsDomain}, DNSNames: []string{httpsDomain},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	// The key first: a reload between the two writes sees a mismatch and
	// keeps the previous pair.
	writeKey(t, keyFile, key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t *testing.T, file string, key *ecdsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
