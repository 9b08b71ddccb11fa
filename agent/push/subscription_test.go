package push

import (
	"errors"
	"strings"
	"testing"

	"casefleet/agent/push/pushtest"
)

func TestParseSubscription(t *testing.T) {
	b := pushtest.NewBrowser(t, "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91b")
	key, auth := b.Keys()
	sub := func(endpoint, p256dh, auth, extra string) string {
		return `{"endpoint":"` + endpoint + `","keys":{"p256dh":"` + p256dh + `","auth":"` + auth + `"}` + extra + `}`
	}
	good := "https://fcm.googleapis.com/fcm/send/abc"

	t.Run("accepts what browsers send", func(t *testing.T) {
		for _, in := range []string{
			b.Subscription("fr"),
			sub(good, key, auth, `,"expirationTime":1767225600000`),
			sub(good, key+"=", auth+"==", ""), // padded base64url
		} {
			s, err := ParseSubscription([]byte(in))
			if err != nil {
				t.Fatalf("%s: %v", in, err)
			}
			if len(s.P256DH) != 65 || len(s.Auth) != 16 {
				t.Errorf("%s: keys of %d and %d bytes", in, len(s.P256DH), len(s.Auth))
			}
		}
	})
	t.Run("an unknown language becomes English", func(t *testing.T) {
		for lang, want := range map[string]string{"fr": "fr", "zh-CN": "zh-CN", "": "en", "xx": "en", "<script>": "en"} {
			s, err := ParseSubscription([]byte(sub(good, key, auth, `,"lang":"`+lang+`"`)))
			if err != nil || s.Lang != want {
				t.Errorf("lang %q: got %q, %v; want %q", lang, s.Lang, err, want)
			}
		}
	})

	notOnCurve := b64.EncodeToString(append([]byte{4}, make([]byte, 64)...))
	for name, in := range map[string]string{
		"empty":               ``,
		"not JSON":            `endpoint=https://x`,
		"array":               `[]`,
		"null":                `null`,
		"unknown field":       sub(good, key, auth, `,"admin":true`),
		"trailing data":       sub(good, key, auth, "") + `{}`,
		"no endpoint":         sub("", key, auth, ""),
		"relative endpoint":   sub("/fcm/send/abc", key, auth, ""),
		"ftp endpoint":        sub("ftp://fcm.googleapis.com/x", key, auth, ""),
		"javascript endpoint": sub("javascript:alert(1)", key, auth, ""),
		"credentials":         sub("https://user:pw@fcm.googleapis.com/x", key, auth, ""),
		"fragment":            sub("https://fcm.googleapis.com/x#y", key, auth, ""),
		"space":               sub("https://fcm.googleapis.com/x y", key, auth, ""),
		"endpoint too long":   sub(good+strings.Repeat("a", 2100), key, auth, ""),
		"no keys":             `{"endpoint":"` + good + `"}`,
		"short p256dh":        sub(good, key[:40], auth, ""),
		"compressed p256dh":   sub(good, b64.EncodeToString(append([]byte{2}, make([]byte, 32)...)), auth, ""),
		"p256dh off curve":    sub(good, notOnCurve, auth, ""),
		"p256dh not base64":   sub(good, "!!!!", auth, ""),
		"p256dh huge":         sub(good, strings.Repeat("A", 3000), auth, ""),
		"short auth":          sub(good, key, auth[:10], ""),
		"long auth":           sub(good, key, auth+"AAAA", ""),
		"standard base64":     sub(good, strings.ReplaceAll(strings.ReplaceAll(key, "-", "+"), "_", "/")+"+/", auth, ""),
		"wrong types":         `{"endpoint":1,"keys":{"p256dh":2,"auth":3}}`,
		"oversized":           sub(good, key, auth, `,"lang":"`+strings.Repeat("x", 5000)+`"`),
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			if _, err := ParseSubscription([]byte(in)); !errors.Is(err, ErrInvalidSubscription) {
				t.Errorf("got %v, want ErrInvalidSubscription", err)
			}
		})
	}
}

func TestCheckEndpoint(t *testing.T) {
	defaults := DefaultPushServices()
	for _, c := range []struct {
		endpoint string
		allowed  []string
		ok       bool
	}{
		{"https://fcm.googleapis.com/fcm/send/abc", defaults, true},
		{"https://updates.push.services.mozilla.com/wpush/v2/abc", defaults, true},
		{"https://web.push.apple.com/QGx", defaults, true},
		{"https://wns2-par02p.notify.windows.com/w/?token=abc", defaults, true},
		{"https://FCM.googleapis.com/fcm/send/abc", defaults, true},
		{"http://fcm.googleapis.com/fcm/send/abc", defaults, false}, // plain http
		{"https://fcm.googleapis.com:8443/x", defaults, false},      // odd port
		{"https://push.apple.com/x", defaults, false},               // ".push.apple.com" is subdomains only
		{"https://evilpush.apple.com.attacker.net/x", defaults, false},
		{"https://fcm.googleapis.com.attacker.net/x", defaults, false},
		{"https://192.168.1.1/admin", defaults, false}, // the kiosk's LAN
		{"https://localhost/x", defaults, false},
		{"http://127.0.0.1:8080/push/1", defaults, false}, // loopback only when allowed
		{"http://127.0.0.1:8080/push/1", []string{"127.0.0.1"}, true},
		{"http://[::1]:8080/push/1", []string{"::1"}, true},
		{"http://10.0.0.1:8080/push/1", []string{"10.0.0.1"}, false}, // http is for loopback only
		{"https://10.0.0.1/push/1", []string{"10.0.0.1"}, true},
	} {
		err := CheckEndpoint(c.endpoint, c.allowed)
		if (err == nil) != c.ok {
			t.Errorf("%s with %v: %v, want ok=%v", c.endpoint, c.allowed, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidSubscription) {
			t.Errorf("%s: %v does not wrap ErrInvalidSubscription", c.endpoint, err)
		}
	}
}
