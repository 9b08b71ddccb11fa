package push

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"casefleet/agent/queue"
	"casefleet/agent/session"
)

// browser plays the customer's browser: the key pair and auth secret it
// creates when it subscribes, and the decryption it does on a push.
type browser struct {
	priv     *ecdh.PrivateKey
	auth     []byte
	endpoint string
}

func newBrowser(t testing.TB, endpoint string) *browser {
	t.Helper()
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	return &browser{priv: priv, auth: auth, endpoint: endpoint}
}

// subscription is the JSON the web app posts, with lang.
func (b *browser) subscription(lang string) string {
	return fmt.Sprintf(`{"endpoint":%q,"expirationTime":null,"keys":{"p256dh":%q,"auth":%q},"lang":%q}`,
		b.endpoint, b64.EncodeToString(b.priv.PublicKey().Bytes()), b64.EncodeToString(b.auth), lang)
}

// decrypt opens an aes128gcm message as a browser does (RFC 8291 §3-4,
// RFC 8188 §2), written independently of the package's encrypt: HKDF by
// hand with HMAC-SHA-256.
func (b *browser) decrypt(body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("short header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if len(body) < 21+idlen || idlen != 65 {
		return nil, fmt.Errorf("key id of %d bytes", idlen)
	}
	asPublic, ciphertext := body[21:21+idlen], body[21+idlen:]
	if uint32(len(ciphertext)) > rs {
		return nil, fmt.Errorf("one record of %d bytes exceeds rs %d", len(ciphertext), rs)
	}
	as, err := ecdh.P256().NewPublicKey(asPublic)
	if err != nil {
		return nil, err
	}
	shared, err := b.priv.ECDH(as)
	if err != nil {
		return nil, err
	}
	hkdf := func(salt, ikm []byte, info string, n int) []byte {
		prk := hmacSHA256(salt, ikm)
		return hmacSHA256(prk, append([]byte(info), 1))[:n] // n <= 32: one block
	}
	ikm := hkdf(b.auth, shared, "WebPush: info\x00"+string(b.priv.PublicKey().Bytes())+string(asPublic), 32)
	cek := hkdf(salt, ikm, "Content-Encoding: aes128gcm\x00", 16)
	nonce := hkdf(salt, ikm, "Content-Encoding: nonce\x00", 12)
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, ciphertext, nil)
	if err != nil {
		return nil, err
	}
	// Strip the padding and the last-record delimiter 0x02.
	end := len(plain) - 1
	for end >= 0 && plain[end] == 0 {
		end--
	}
	if end < 0 || plain[end] != 2 {
		return nil, errors.New("no last-record delimiter")
	}
	return plain[:end], nil
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// vapidClaims are the JWT claims of RFC 8292.
type vapidClaims struct {
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
	Sub string `json:"sub"`
}

// verifyVAPID checks an Authorization header "vapid t=JWT, k=KEY": the key
// is publicKey, the JWT's header says ES256 and its signature verifies
// with that key. It returns the claims.
func verifyVAPID(header, publicKey string) (vapidClaims, error) {
	rest, ok := strings.CutPrefix(header, "vapid ")
	if !ok {
		return vapidClaims{}, fmt.Errorf("scheme of %q is not vapid", header)
	}
	params := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		params[k] = v
	}
	if params["k"] != publicKey {
		return vapidClaims{}, fmt.Errorf("k=%q, want the agent's key %q", params["k"], publicKey)
	}
	parts := strings.Split(params["t"], ".")
	if len(parts) != 3 {
		return vapidClaims{}, errors.New("t is not a JWS compact serialisation")
	}
	var head struct{ Alg, Typ string }
	if err := decodeSegment(parts[0], &head); err != nil || head.Alg != "ES256" {
		return vapidClaims{}, fmt.Errorf("JWT header %+v (%v), want alg ES256", head, err)
	}
	keyBytes, err := b64.DecodeString(publicKey)
	if err != nil {
		return vapidClaims{}, err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), keyBytes)
	if err != nil {
		return vapidClaims{}, err
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return vapidClaims{}, fmt.Errorf("signature of %d bytes (%v), want 64", len(sig), err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return vapidClaims{}, errors.New("JWT signature does not verify")
	}
	var claims vapidClaims
	if err := decodeSegment(parts[1], &claims); err != nil {
		return vapidClaims{}, err
	}
	return claims, nil
}

func decodeSegment(seg string, v any) error {
	b, err := b64.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// delivery is one request a push endpoint received.
type delivery struct {
	Path   string
	Header http.Header
	Body   []byte
}

// pushService is a push service on 127.0.0.1: it records each request and
// answers with the next scripted status (201 when the script is empty).
type pushService struct {
	*httptest.Server
	got chan delivery

	mu     sync.Mutex
	script []int
}

func newPushService(t testing.TB, script ...int) *pushService {
	t.Helper()
	ps := &pushService{got: make(chan delivery, 64), script: script}
	ps.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 8192))
		ps.got <- delivery{Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
		ps.mu.Lock()
		status := http.StatusCreated
		if len(ps.script) > 0 {
			status, ps.script = ps.script[0], ps.script[1:]
		}
		ps.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(ps.Close)
	return ps
}

// next waits for the next delivery.
func (ps *pushService) next(t testing.TB, within time.Duration) delivery {
	t.Helper()
	select {
	case d := <-ps.got:
		return d
	case <-time.After(within):
		t.Fatalf("no push message within %v", within)
		return delivery{}
	}
}

// parts are a push Service on a store of its own, for tests that need no
// printer.
type parts struct {
	db       *bbolt.DB
	queue    *queue.Queue
	sessions *session.Store
	svc      *Service
}

func newParts(t testing.TB, tune func(*Options)) *parts {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "test.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	q, err := queue.Open(db, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := session.Open(db, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{DB: db, Queue: q, Sessions: sessions, MachineCode: "CT0700026", MachineName: "Mall 3F", AllowedHosts: []string{"127.0.0.1"}}
	if tune != nil {
		tune(&opt)
	}
	svc, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return &parts{db: db, queue: q, sessions: sessions, svc: svc}
}

// run runs the service's notifier until the test ends.
func (p *parts) run(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
