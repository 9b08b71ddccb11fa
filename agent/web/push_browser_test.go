package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"

	"casefleet/agent/agenttest"
	"casefleet/agent/push"
	"casefleet/agent/push/pushtest"
)

// Web Push in a real browser. Headless Chromium cannot subscribe for
// real: PushManager.subscribe asks the browser vendor's push service
// (FCM), which tests must not reach. So the page gets a stand-in for that
// one step, a subscription whose endpoint is the test's push service on
// loopback and whose keys are pushtest's browser's; everything else is
// real: the notification permission (granted through the DevTools
// protocol, as a customer's tap on "Allow" would), the page's button and
// code, the service worker's registration, the subscription posted to
// the agent, the agent's encryption and VAPID signature, and the service
// worker showing the decrypted message as a notification.

// pushStandIn replaces PushManager's subscribe and getSubscription, and
// nothing else, before the page's scripts run. Like the real ones, it
// wants a granted notification permission, userVisibleOnly and an
// applicationServerKey, refuses another key while subscribed, and hands
// out one subscription until it is unsubscribed. It records each call in
// window.__pushStandIn.
const pushStandIn = `(() => {
  if (typeof PushManager === 'undefined') return;
  const endpoint = %s;
  const keys = { p256dh: %s, auth: %s };
  const bytes = (s) => {
    const b = s.replace(/-/g, '+').replace(/_/g, '/');
    return Uint8Array.from(atob(b + '='.repeat((4 - (b.length %% 4)) %% 4)), (c) => c.charCodeAt(0));
  };
  const base64url = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const log = (window.__pushStandIn = { subscribe: [], unsubscribe: 0 });
  let current = null;

  class PushSubscriptionStandIn {
    constructor(options) {
      this.endpoint = endpoint;
      this.expirationTime = null;
      this.options = Object.freeze(options);
    }
    getKey(name) { return keys[name] ? bytes(keys[name]).buffer : null; }
    toJSON() { return { endpoint, expirationTime: null, keys: { ...keys } }; }
    async unsubscribe() {
      log.unsubscribe++;
      if (current === this) current = null;
      return true;
    }
  }

  PushManager.prototype.subscribe = async function (options = {}) {
    let key = options.applicationServerKey;
    if (typeof key === 'string') key = bytes(key);
    else if (key instanceof ArrayBuffer) key = new Uint8Array(key);
    else if (ArrayBuffer.isView(key)) key = new Uint8Array(key.buffer, key.byteOffset, key.byteLength);
    else throw new DOMException('no applicationServerKey', 'AbortError');
    key = key.slice().buffer; // the subscription keeps a copy, as an ArrayBuffer
    log.subscribe.push({ userVisibleOnly: options.userVisibleOnly, applicationServerKey: base64url(key) });
    if (Notification.permission !== 'granted') throw new DOMException('permission not granted', 'NotAllowedError');
    if (options.userVisibleOnly !== true) throw new DOMException('userVisibleOnly is required', 'NotAllowedError');
    if (current && base64url(current.options.applicationServerKey) !== base64url(key)) {
      throw new DOMException('subscribed with another applicationServerKey', 'InvalidStateError');
    }
    current ??= new PushSubscriptionStandIn({ userVisibleOnly: true, applicationServerKey: key });
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();`

// shownNotification is a notification as the page reads it back from the
// service worker's registration.
type shownNotification struct {
	Title              string `json:"title"`
	Body               string `json:"body"`
	Lang               string `json:"lang"`
	Dir                string `json:"dir"`
	Tag                string `json:"tag"`
	RequireInteraction bool   `json:"requireInteraction"`
	Data               struct {
		URL string `json:"url"`
	} `json:"data"`
	Count int `json:"count"` // notifications shown with that tag
}

// pushNotice is the decrypted message: what the agent tells the service
// worker to show.
type pushNotice struct {
	Title, Body, Kind, OrderID, PickupCode, Lang, Dir, Tag, URL string
}

// TestPushOptInAndNotificationsInArabic: a customer whose phone speaks
// Arabic orders, waits in line and taps "Notify me"; when it is her turn
// and when her case is ready, the agent sends her push service an
// encrypted, VAPID-signed message in Arabic, and her service worker shows
// it as a right-to-left notification that opens her order's page.
func TestPushOptInAndNotificationsInArabic(t *testing.T) {
	browser(t) // skip (or fail on CI) before starting anything without Chromium
	const code, machineName = "CT0700026", "Mall 3F, east escalator"
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{code}, PayDelay: -1}) // pays when told
	ps := pushtest.NewPushService(t)
	a := startKiosk(t, sim, code, machineName, "mall-3f", nil, func(o *push.Options) {
		o.AllowedHosts = []string{"127.0.0.1"} // the push service on loopback
	})
	fd := newFrontDoor(t, a)
	var key struct{ PublicKey string }
	resp, err := http.Get(a.API() + "/push/key")
	if err != nil {
		t.Fatal(err)
	}
	agenttest.MustJSON(t, resp, &key)

	// Someone is at the machine already, yet to pay: ours waits in line.
	ahead := agenttest.NewCustomer(t, a.API())
	ahead.Order(t, ahead.FirstProduct(t))
	agenttest.Eventually(t, 30*time.Second, "the first order reaches the machine", func() bool { return len(sim.Orders(t, code)) == 1 })

	p := newPhone(t, "amal", "ar-EG,ar")
	pb := pushtest.NewBrowser(t, ps.URL+"/push/amal")
	p256dh, auth := pb.Keys()
	js := func(v string) string { b, _ := json.Marshal(v); return string(b) }

	// Before the page loads: notifications allowed for its origin, the push
	// service's stand-in in place, and the service workers watched.
	// (The watch ends after a while, so a worker that never activates
	// fails the test instead of hanging it.)
	ctx, cancel := context.WithTimeout(p.ctx, 3*time.Minute)
	defer cancel()
	registrations := chromedp.Events(ctx, serviceworker.WorkerRegistrationUpdated)
	versions := chromedp.Events(ctx, serviceworker.WorkerVersionUpdated)
	p.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission:       &cdpbrowser.PermissionDescriptor{Name: "notifications"},
			Setting:          cdpbrowser.PermissionSettingGranted,
			Origin:           fd.URL,
			BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
		}); err != nil {
			return fmt.Errorf("grant notifications: %w", err)
		}
		if _, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: fmt.Sprintf(pushStandIn, js(pb.Endpoint), js(p256dh), js(auth)),
		}); err != nil {
			return fmt.Errorf("install the push stand-in: %w", err)
		}
		_, err := cdp.Call(ctx, tg, serviceworker.Enable, cdp.Empty{})
		return err
	}))

	// Order, and while in line ask to be told.
	order(p, fd.editorURL(code, "mall-3f"), tartanPhoto(t, 600, 960))
	p.waitFor("place in line", `document.getElementById('position').innerText !== ''`, 30*time.Second)
	orderID := eval[string](p, `import('casefleet/status').then(m => m.currentOrder().id)`)
	p.waitFor("the Notify me button", `!document.getElementById('push-btn').hidden`, 20*time.Second)
	if got := p.text("push-btn"); got != "أعلمني عندما يحين دوري" {
		t.Errorf("the button says %q, want Arabic for “Notify me when it is my turn”", got)
	}
	if perm := eval[string](p, `Notification.permission`); perm != "granted" {
		t.Fatalf("notification permission %q after granting it", perm)
	}
	p.click("#push-btn")
	// The note says how it went: on, blocked or failed.
	p.waitFor("the outcome of the tap", `!document.getElementById('push-note').hidden`, 60*time.Second)
	if got := p.text("push-note"); got != "الإشعارات مفعّلة: سنخبرك عندما يحين دورك وعندما يصبح غطاؤك جاهزًا." {
		t.Fatalf("after the tap the page says %q, want that notifications are on; push stand-in saw %s",
			got, eval[string](p, `JSON.stringify(window.__pushStandIn)`))
	}
	if !eval[bool](p, `document.getElementById('push-btn').hidden`) {
		t.Error("the Notify me button is still shown with notifications on")
	}
	var calls struct {
		Subscribe []struct {
			UserVisibleOnly      bool   `json:"userVisibleOnly"`
			ApplicationServerKey string `json:"applicationServerKey"`
		} `json:"subscribe"`
		Unsubscribe int `json:"unsubscribe"`
	}
	if err := json.Unmarshal([]byte(eval[string](p, `JSON.stringify(window.__pushStandIn)`)), &calls); err != nil {
		t.Fatal(err)
	}
	if len(calls.Subscribe) != 1 || !calls.Subscribe[0].UserVisibleOnly || calls.Subscribe[0].ApplicationServerKey != key.PublicKey || calls.Unsubscribe != 0 {
		t.Fatalf("the page subscribed %+v; want once, userVisibleOnly, with the agent's VAPID key %s", calls, key.PublicKey)
	}
	p.screenshot("push-on-arabic")

	// The service worker the page registered, as the browser reports it.
	regID := activeWorker(t, fd.URL+"/app/", registrations, versions)

	// deliver hands a message to the service worker as the browser's push
	// service would, and returns the notification it shows.
	deliver := func(n pushNotice, plain []byte) shownNotification {
		t.Helper()
		p.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, serviceworker.DeliverPushMessage, serviceworker.DeliverPushMessageParams{
				Origin: fd.URL, RegistrationID: regID, Data: string(plain),
			})
			return err
		}))
		raw, err := chromedp.Run(p.ctx, chromedp.Poll[string](fmt.Sprintf(`(async () => {
			const reg = await navigator.serviceWorker.getRegistration('/app/');
			const shown = reg ? await reg.getNotifications({ tag: %s }) : [];
			const n = shown.find((n) => n.title === %s);
			return n ? JSON.stringify({ title: n.title, body: n.body, lang: n.lang, dir: n.dir, tag: n.tag,
				requireInteraction: n.requireInteraction, data: n.data, count: shown.length }) : '';
		})()`, js(n.Tag), js(n.Title)), chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
		if err != nil {
			t.Fatalf("the service worker showed no notification %q within 30s: %v", n.Title, err)
		}
		var shown shownNotification
		if err := json.Unmarshal([]byte(raw), &shown); err != nil {
			t.Fatal(err)
		}
		return shown
	}
	receive := func(kind string) (pushNotice, []byte) {
		t.Helper()
		d := ps.Next(t, 60*time.Second)
		plain, _ := ps.Open(t, d, pb, key.PublicKey)
		var n pushNotice
		if err := json.Unmarshal(plain, &n); err != nil {
			t.Fatalf("message %q: %v", plain, err)
		}
		if d.Path != "/push/amal" || n.Kind != kind || n.OrderID != orderID || n.Lang != "ar" || n.Dir != "rtl" ||
			n.Tag != "order-"+orderID || n.URL != "/editor?machine="+code {
			t.Fatalf("push message to %s: %+v; want %s for order %s, in Arabic", d.Path, n, kind, orderID)
		}
		return n, plain
	}

	// Her turn: the one ahead pays and collects; hers goes to the machine.
	sim.Admin(t, http.MethodPost, "/admin/orders/"+sim.Orders(t, code)[0].ID+"/pay", nil, nil)
	pay, plain := receive(push.KindPay)
	if want := "حان دورك: ادفع الآن عند الجهاز"; pay.Title != want || !strings.Contains(pay.Body, machineName) {
		t.Errorf("pay notice %q / %q, want the title %q and the machine's name", pay.Title, pay.Body, want)
	}
	shown := deliver(pay, plain)
	if shown.Body != pay.Body || shown.Lang != "ar" || shown.Dir != "rtl" || shown.Data.URL != pay.URL || !shown.RequireInteraction || shown.Count != 1 {
		t.Errorf("the notification shown: %+v; want the pay notice's body, ar, rtl, %s, staying until tapped", shown, pay.URL)
	}

	// Ready: the same notification is replaced, now with the pickup code.
	vendor := sim.Orders(t, code)
	if len(vendor) != 2 {
		t.Fatalf("the machine has %d orders, want 2", len(vendor))
	}
	sim.Admin(t, http.MethodPost, "/admin/orders/"+vendor[1].ID+"/pay", nil, nil)
	ready, plain := receive(push.KindReady)
	p.waitFor("ready on the page", `document.getElementById('pickup-code').innerText !== ''`, 60*time.Second)
	pickup := p.text("pickup-code")
	if want := "غطاؤك جاهز"; ready.Title != want || ready.PickupCode != pickup || !strings.Contains(ready.Body, "رمز الاستلام "+pickup) {
		t.Errorf("ready notice %+v, want the title %q and the pickup code %q the page shows", ready, want, pickup)
	}
	shown = deliver(ready, plain)
	if shown.Body != ready.Body || shown.Lang != "ar" || shown.Dir != "rtl" || shown.Data.URL != ready.URL || shown.RequireInteraction || shown.Count != 1 {
		t.Errorf("the notification shown: %+v; want the ready notice replacing the call to pay", shown)
	}
	if d, ok := ps.Pending(); ok {
		t.Errorf("an extra push message arrived at %s", d.Path)
	}
}

// activeWorker waits for the browser to report an activated service
// worker registered for scope, and returns its registration's id.
func activeWorker(t *testing.T, scope string, registrations iter.Seq2[serviceworker.EventWorkerRegistrationUpdated, error], versions iter.Seq2[serviceworker.EventWorkerVersionUpdated, error]) serviceworker.RegistrationID {
	t.Helper()
	var id serviceworker.RegistrationID
	for ev, err := range registrations {
		if err != nil {
			t.Fatalf("no service worker registration for %s: %v", scope, err)
		}
		for _, r := range ev.Registrations {
			if r.ScopeURL == scope && !r.IsDeleted {
				id = r.RegistrationID
			}
		}
		if id != "" {
			break
		}
	}
	for ev, err := range versions {
		if err != nil {
			t.Fatalf("the service worker of %s never activated: %v", scope, err)
		}
		for _, v := range ev.Versions {
			if v.RegistrationID == id && v.Status == serviceworker.VersionStatusActivated {
				if !strings.Contains(v.ScriptURL, "/app/sw.js?") {
					t.Fatalf("the worker of %s runs %s, not the app's sw.js", scope, v.ScriptURL)
				}
				return id
			}
		}
	}
	t.Fatalf("the service worker events of %s ended", scope)
	return ""
}
