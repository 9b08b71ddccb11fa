package push

import (
	"bytes"
	"crypto/ecdh"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"casefleet/agent/push/pushtest"
)

// The worked example of RFC 8291 §5 (keys in Appendix A).
const (
	rfcPlaintext = "When I grow up, I want to be a watermelon"
	rfcASPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
	rfcUAPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
	rfcUAPublic  = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
	rfcAuth      = "BTBZMqHH6r4Tts7J_aSIgg"
	rfcSalt      = "DGv6ra1nlYgDCS1FRnbzlw"
	rfcBody      = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
)

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncryptReproducesTheRFC8291Example(t *testing.T) {
	as, err := ecdh.P256().NewPrivateKey(mustB64(t, rfcASPrivate))
	if err != nil {
		t.Fatal(err)
	}
	got, err := encryptWith([]byte(rfcPlaintext), mustB64(t, rfcUAPublic), mustB64(t, rfcAuth), as, mustB64(t, rfcSalt), 0)
	if err != nil {
		t.Fatal(err)
	}
	if b64.EncodeToString(got) != rfcBody {
		t.Fatalf("body\n got %s\nwant %s", b64.EncodeToString(got), rfcBody)
	}

	// And the test's independent browser-side decryption opens it.
	ua, err := ecdh.P256().NewPrivateKey(mustB64(t, rfcUAPrivate))
	if err != nil {
		t.Fatal(err)
	}
	b := pushtest.BrowserWithKeys("", ua, mustB64(t, rfcAuth))
	plain, err := b.Decrypt(got)
	if err != nil || string(plain) != rfcPlaintext {
		t.Fatalf("decrypt: %q, %v", plain, err)
	}
}

func TestEncryptRoundTripsWithPaddingAndFreshKeys(t *testing.T) {
	b := pushtest.NewBrowser(t, "")
	for _, n := range []int{0, 1, 127, 128, 1000, MaxPayload} {
		msg := bytes.Repeat([]byte{'x'}, n)
		sealed, err := encrypt(msg, b.PublicKey(), b.AuthSecret())
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if len(sealed) > 4096 {
			t.Errorf("%d bytes: body of %d bytes exceeds what push services take", n, len(sealed))
		}
		plain, err := b.Decrypt(sealed)
		if err != nil || !bytes.Equal(plain, msg) {
			t.Fatalf("%d bytes: round trip gave %d bytes, %v", n, len(plain), err)
		}
		again, _ := encrypt(msg, b.PublicKey(), b.AuthSecret())
		if bytes.Equal(again[:86], sealed[:86]) {
			t.Errorf("%d bytes: two messages share salt and sender key", n)
		}
	}
	if _, err := encrypt(make([]byte, MaxPayload+1), b.PublicKey(), b.AuthSecret()); err == nil {
		t.Error("a payload over MaxPayload was encrypted")
	}
}

func TestVAPIDTokenVerifiesAndKeySurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.db")
	open := func() *store {
		db, err := bbolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		st, err := openStore(db, 10)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	key, err := st.vapidKey()
	if err != nil {
		t.Fatal(err)
	}
	if raw := mustB64(t, key.public); len(raw) != 65 || raw[0] != 4 {
		t.Fatalf("public key %q is not an uncompressed P-256 point", key.public)
	}

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	endpoint, _ := parseEndpoint("https://fcm.googleapis.com:443/fcm/send/abc?x=1")
	header, err := key.authorization(endpoint, DefaultSubject, now)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := pushtest.VerifyVAPID(header, key.public)
	if err != nil {
		t.Fatal(err)
	}
	want := pushtest.VAPIDClaims{Aud: "https://fcm.googleapis.com", Exp: now.Add(12 * time.Hour).Unix(), Sub: DefaultSubject}
	if claims != want {
		t.Errorf("claims %+v, want %+v", claims, want)
	}
	// A token of another key does not verify with this one.
	other, _ := newVAPIDKey()
	otherHeader, _ := other.authorization(endpoint, DefaultSubject, now)
	if _, err := pushtest.VerifyVAPID(strings.Replace(otherHeader, other.public, key.public, 1), key.public); err == nil {
		t.Error("a token signed by another key verified")
	}

	// Reopening the store (an agent restart) keeps the key: subscriptions
	// made with it keep working.
	st.db.Close()
	again, err := open().vapidKey()
	if err != nil {
		t.Fatal(err)
	}
	if again.public != key.public {
		t.Error("the VAPID key changed across a restart")
	}
}

func TestPayloadsAreTranslatedAndFit(t *testing.T) {
	svc := newParts(t, nil).svc
	for _, lang := range Languages() {
		for _, kind := range []string{KindPay, KindReady, KindFailed} {
			n := notice{rec: record{Lang: lang}, kind: kind}
			n.order.ID, n.order.PickupCode = strings.Repeat("A", 26), "0042"
			p := svc.payload(n)
			if p.Title == "" || p.Body == "" || strings.Contains(p.Body, "{") {
				t.Errorf("%s %s: %+v", lang, kind, p)
			}
			if lang != "en" && p.Title == messages("en", kind, "", "").title {
				t.Errorf("%s %s: title is the English one", lang, kind)
			}
			if kind != KindFailed && !strings.Contains(p.Body, "0042") {
				t.Errorf("%s %s: body %q lacks the pickup code", lang, kind, p.Body)
			}
			if b, _ := json.Marshal(p); len(b) > MaxPayload {
				t.Errorf("%s %s: %d bytes", lang, kind, len(b))
			}
		}
	}
	if p := svc.payload(notice{rec: record{Lang: "ar"}, kind: KindReady}); p.Dir != "rtl" || p.Lang != "ar" {
		t.Errorf("Arabic notice: dir %q lang %q", p.Dir, p.Lang)
	}
	if p := svc.payload(notice{rec: record{Lang: "en"}, kind: KindReady}); strings.Contains(p.Body, "code") {
		t.Errorf("without a pickup code the body still names one: %q", p.Body)
	}
}
