package push

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// RFC 8291 sizes.
const (
	recordSize = 4096
	saltSize   = 16
	authSize   = 16
	keySize    = 65 // an uncompressed P-256 point
	headerSize = saltSize + 4 + 1 + keySize
	tagSize    = 16
	// MaxPayload is the largest plaintext one message carries: push
	// services accept 4096-byte bodies, less the header, the delimiter
	// octet and the AEAD tag.
	MaxPayload = recordSize - headerSize - 1 - tagSize
	// padTo rounds the padded plaintext up to a multiple of this, so a
	// message's length says little about what it says.
	padTo = 128
)

// encrypt seals plaintext for the browser that holds the private key of
// uaPublic and shares authSecret, as one aes128gcm record (RFC 8291 §4)
// from a fresh sender key and salt.
func encrypt(plaintext, uaPublic, authSecret []byte) ([]byte, error) {
	as, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	salt := make([]byte, saltSize)
	rand.Read(salt)
	pad := 0
	if n := len(plaintext) + 1; n%padTo != 0 {
		pad = min(padTo-n%padTo, MaxPayload-len(plaintext))
	}
	return encryptWith(plaintext, uaPublic, authSecret, as, salt, pad)
}

// encryptWith is encrypt with a given sender key, salt and padding length,
// so that the RFC's worked example can be reproduced.
func encryptWith(plaintext, uaPublic, authSecret []byte, as *ecdh.PrivateKey, salt []byte, pad int) ([]byte, error) {
	if len(plaintext)+pad > MaxPayload || pad < 0 {
		return nil, fmt.Errorf("push payload of %d bytes (+%d padding) exceeds %d", len(plaintext), pad, MaxPayload)
	}
	if len(authSecret) != authSize || len(salt) != saltSize {
		return nil, errors.New("push: auth secret and salt must be 16 bytes")
	}
	ua, err := ecdh.P256().NewPublicKey(uaPublic)
	if err != nil {
		return nil, fmt.Errorf("push: subscription key: %w", err)
	}
	shared, err := as.ECDH(ua)
	if err != nil {
		return nil, fmt.Errorf("push: key agreement: %w", err)
	}
	asPublic := as.PublicKey().Bytes()

	// IKM = HKDF(salt=auth_secret, ikm=ecdh_secret,
	//            info="WebPush: info" || 0x00 || ua_public || as_public, 32)
	keyInfo := "WebPush: info\x00" + string(uaPublic) + string(asPublic)
	ikm, err := hkdf.Key(sha256.New, shared, authSecret, keyInfo, 32)
	if err != nil {
		return nil, err
	}
	// RFC 8188: CEK and nonce from the salt and that IKM.
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}

	// The only (so the last) record: plaintext, delimiter 0x02, zero padding.
	record := make([]byte, len(plaintext)+1+pad, len(plaintext)+1+pad+tagSize)
	copy(record, plaintext)
	record[len(plaintext)] = 2

	out := make([]byte, headerSize, headerSize+len(record)+tagSize)
	copy(out, salt)
	binary.BigEndian.PutUint32(out[saltSize:], recordSize)
	out[saltSize+4] = keySize
	copy(out[saltSize+5:], asPublic)
	return gcm.Seal(out, nonce, record, nil), nil
}
