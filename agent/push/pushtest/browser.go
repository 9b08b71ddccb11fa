package pushtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

// b64 is base64url without padding, as Web Push writes keys.
var b64 = base64.RawURLEncoding

// Browser is the customer's browser as Web Push sees it: the key pair and
// auth secret it creates when it subscribes, the endpoint its push
// service gave it, and the decryption it does when a message arrives.
type Browser struct {
	Endpoint string
	key      *ecdh.PrivateKey
	auth     []byte
}

// NewBrowser subscribes a browser with fresh keys at endpoint.
func NewBrowser(t testing.TB, endpoint string) *Browser {
	t.Helper()
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	return &Browser{Endpoint: endpoint, key: key, auth: auth}
}

// BrowserWithKeys is a browser with the given private key and auth
// secret, for known-answer tests such as RFC 8291's example.
func BrowserWithKeys(endpoint string, key *ecdh.PrivateKey, auth []byte) *Browser {
	return &Browser{Endpoint: endpoint, key: key, auth: auth}
}

// PublicKey is the browser's public key, the uncompressed P-256 point
// (PushSubscription.getKey("p256dh")).
func (b *Browser) PublicKey() []byte { return b.key.PublicKey().Bytes() }

// AuthSecret is the 16-byte auth secret (PushSubscription.getKey("auth")).
func (b *Browser) AuthSecret() []byte { return b.auth }

// Keys are the subscription's keys as PushSubscription.toJSON() writes
// them: base64url without padding.
func (b *Browser) Keys() (p256dh, auth string) {
	return b64.EncodeToString(b.PublicKey()), b64.EncodeToString(b.auth)
}

// Subscription is the JSON the web app posts to the agent: the
// subscription's toJSON() with the customer's language added.
func (b *Browser) Subscription(lang string) string {
	p256dh, auth := b.Keys()
	return fmt.Sprintf(`{"endpoint":%q,"expirationTime":null,"keys":{"p256dh":%q,"auth":%q},"lang":%q}`,
		b.Endpoint, p256dh, auth, lang)
}

// Decrypt opens an aes128gcm message body as a browser does (RFC 8291
// §3-4, RFC 8188 §2): one record, HKDF written out with HMAC-SHA-256.
func (b *Browser) Decrypt(body []byte) ([]byte, error) {
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
	shared, err := b.key.ECDH(as)
	if err != nil {
		return nil, err
	}
	hkdf := func(salt, ikm []byte, info string, n int) []byte {
		prk := hmacSHA256(salt, ikm)
		return hmacSHA256(prk, append([]byte(info), 1))[:n] // n <= 32: one block
	}
	ikm := hkdf(b.auth, shared, "WebPush: info\x00"+string(b.PublicKey())+string(asPublic), 32)
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
