package push

import (
	"crypto/ecdh"
	"errors"
	"testing"

	"casefleet/agent/push/pushtest"
)

func FuzzParseSubscription(f *testing.F) {
	b := pushtest.NewBrowser(f, "https://fcm.googleapis.com/fcm/send/abc")
	f.Add([]byte(b.Subscription("en")))
	f.Add([]byte(b.Subscription("ar")))
	f.Add([]byte(`{"endpoint":"https://x/","keys":{"p256dh":"","auth":""}}`))
	f.Add([]byte(`{"endpoint":"https://x/","expirationTime":1e400}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ParseSubscription(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidSubscription) {
				t.Fatalf("error %v does not wrap ErrInvalidSubscription", err)
			}
			return
		}
		// Whatever is accepted is usable: a real P-256 key, a 16-byte
		// secret, a language notices exist in, an endpoint that the
		// endpoint rule can judge, and a message can be sealed for it.
		if _, err := ecdh.P256().NewPublicKey(s.P256DH); err != nil || len(s.Auth) != 16 {
			t.Fatalf("accepted unusable keys: %v", err)
		}
		if language(s.Lang) != s.Lang {
			t.Fatalf("accepted language %q", s.Lang)
		}
		if len(in) > maxSubscriptionBytes || len(s.Endpoint) > maxEndpointBytes {
			t.Fatal("accepted oversized input")
		}
		_ = CheckEndpoint(s.Endpoint, DefaultPushServices())
		if _, err := encrypt([]byte("x"), s.P256DH, s.Auth); err != nil {
			t.Fatalf("cannot encrypt for an accepted subscription: %v", err)
		}
	})
}
