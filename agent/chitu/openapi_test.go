package chitu

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"casefleet/agent/chitu/protocol"
	"casefleet/agent/ink"
)

const testCode = "CT0700026"

// testMachine is a machine record as the platform keeps it.
func testMachine(code string) protocol.Machine {
	return protocol.Machine{
		Name:         "Mall 3F",
		DeviceID:     base64.StdEncoding.EncodeToString([]byte("dev-" + code)),
		DeviceCode:   code,
		MachineModel: "CT-360",
		Address:      "Mall, 3rd floor",
		OnlineStatus: "online",
		MachineID:    "mid-" + code,
		WhiteSugar:   protocol.InkSufficient,
		BlueSugar:    protocol.InkLow,
		YellowSugar:  protocol.InkUnknown,
		RedSugar:     "",
	}
}

func testConfig(baseURL, code string) Config {
	return Config{
		BaseURL:      baseURL,
		AppID:        testAppID,
		AppSecret:    testSecret,
		MachineCode:  code,
		PayType:      "nayax",
		MQTTURL:      "tcp://127.0.0.1:1", // nothing listens: the API tests need no broker
		CleanSession: true,
		Logger:       slog.New(slog.DiscardHandler),
	}
}

// newAPIDriver builds a driver on f without starting its background work,
// so a test sees only the calls it makes itself.
func newAPIDriver(t *testing.T, f *fakePlatform, edit ...func(*Config)) *Driver {
	t.Helper()
	cfg := testConfig(f.URL(), testCode)
	for _, e := range edit {
		e(&cfg)
	}
	d, err := newDriver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSignatureOfBuiltRequests(t *testing.T) {
	// The worked examples of shared/docs/chitu-protocol.md, built by the
	// driver's own request builder in both encodings.
	vectors := []struct {
		call   string
		fields fields
		want   string
	}{
		{protocol.CallMachineDetailsTwo, fields{"device_code": "CT0700026"},
			"3357d086dd55cdcb6b06841b657c4c29dfb9e5f08b2284612e2c190701989c47"},
		{protocol.CallMachineProductList, fields{"device_id": "ZGV2LUNUMDcwMDAyNg==", "type": "diy", "status": 1, "page": 1, "limit": 100},
			"2337a9202ad84891f51a102e80e52db02c8d75d3ddd8f3ac6635215a7872eb15"},
	}
	for _, encoding := range []string{EncodingJSON, EncodingForm} {
		for _, v := range vectors {
			t.Run(encoding+"/"+v.call, func(t *testing.T) {
				cfg := testConfig("http://127.0.0.1:1", testCode)
				cfg.Encoding = encoding
				api := newOpenAPI(cfg.withDefaults())
				req, err := api.newRequest(context.Background(), v.call, v.fields)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := req.URL.String(), "http://127.0.0.1:1/api/openApi/"+v.call; got != want {
					t.Errorf("URL = %s, want %s", got, want)
				}
				body, err := io.ReadAll(req.Body)
				if err != nil {
					t.Fatal(err)
				}
				sent, err := decodeFields(req.Header.Get("Content-Type"), body)
				if err != nil {
					t.Fatal(err)
				}
				if sent["sign"] != v.want {
					t.Errorf("sign = %s, want %s", sent["sign"], v.want)
				}
				if sent["appid"] != testAppID {
					t.Errorf("appid = %q", sent["appid"])
				}
			})
		}
	}
}

func TestJSONBodyCarriesNumbersAsNumbers(t *testing.T) {
	api := newOpenAPI(testConfig("http://127.0.0.1:1", testCode).withDefaults())
	body, contentType, err := api.encodeBody(fields{"page": 1, "limit": 100, "image_url": "https://x.test/a.tif?k=1&v=2"})
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "application/json" {
		t.Errorf("content type %q", contentType)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if string(raw["page"]) != "1" || string(raw["limit"]) != "100" {
		t.Errorf("numbers sent as %s and %s, want bare 1 and 100", raw["page"], raw["limit"])
	}
	if !strings.Contains(string(body), `"https://x.test/a.tif?k=1&v=2"`) {
		t.Errorf("URL escaped in %s", body)
	}
	want := protocol.Sign(map[string]string{"appid": testAppID, "page": "1", "limit": "100", "image_url": "https://x.test/a.tif?k=1&v=2"}, testSecret)
	if !strings.Contains(string(body), want) {
		t.Errorf("body %s is not signed over the decimal text", body)
	}
}

func TestEncodeBodyRefusesUnsupportedValues(t *testing.T) {
	api := newOpenAPI(testConfig("http://127.0.0.1:1", testCode).withDefaults())
	if _, _, err := api.encodeBody(fields{"price": 1.5}); err == nil {
		t.Fatal("a float field was encoded; its text would be ambiguous to sign")
	}
}

func TestWrongSecretIsRefused(t *testing.T) {
	// The fake checks signatures like the platform: a wrong secret is a
	// refusal, not a silent success.
	f := newFakePlatform(t, testMachine(testCode))
	d := newAPIDriver(t, f, func(c *Config) { c.AppSecret = "not-the-secret" })
	_, err := d.Machine(t.Context())
	var rej *RejectedError
	if !errors.As(err, &rej) || rej.Status != 401 {
		t.Fatalf("err = %v, want a 401 refusal", err)
	}
}

func TestResolveByMachineDetailsTwo(t *testing.T) {
	m := testMachine(testCode)
	f := newFakePlatform(t, m)
	d := newAPIDriver(t, f)

	ids, err := d.idsFor(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ids.deviceID != m.DeviceID || ids.machineID != m.MachineID {
		t.Fatalf("ids = %+v, want %s / %s", ids, m.DeviceID, m.MachineID)
	}
	if _, err := d.idsFor(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.callsOf(protocol.CallMachineDetailsTwo)); n != 1 {
		t.Errorf("machineDetailsTwo called %d times, want once (then cached)", n)
	}
	if n := len(f.callsOf(protocol.CallMachineList)); n != 0 {
		t.Errorf("machineList called %d times, want none", n)
	}
}

func TestResolveFallsBackToPagingMachineList(t *testing.T) {
	var machines []protocol.Machine
	for i := range 250 {
		machines = append(machines, testMachine(fmt.Sprintf("CT09%05d", i)))
	}
	ours := machines[230]
	f := newFakePlatform(t, machines...)
	f.setRefused(protocol.CallMachineDetailsTwo, "未设置")
	d := newAPIDriver(t, f, func(c *Config) { c.MachineCode = ours.DeviceCode })

	ids, err := d.idsFor(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ids.deviceID != ours.DeviceID || ids.machineID != ours.MachineID {
		t.Fatalf("ids = %+v, want those of %s", ids, ours.DeviceCode)
	}
	calls := f.callsOf(protocol.CallMachineList)
	if len(calls) != 3 {
		t.Fatalf("machineList called %d times, want pages 1 to 3", len(calls))
	}
	for i, c := range calls {
		if c.Fields["page"] != strconv.Itoa(i+1) || c.Fields["limit"] != "100" {
			t.Errorf("call %d asked page %s limit %s", i, c.Fields["page"], c.Fields["limit"])
		}
	}
}

func TestResolveFailsForAnUnknownMachine(t *testing.T) {
	f := newFakePlatform(t, testMachine("CT0900001"))
	d := newAPIDriver(t, f)
	_, err := d.idsFor(t.Context())
	if err == nil || !strings.Contains(err.Error(), "no machine "+testCode) {
		t.Fatalf("err = %v, want one saying %s is not listed", err, testCode)
	}
	if _, ok := d.cachedIDs(); ok {
		t.Fatal("a failed resolution was cached")
	}
}

func TestCodeMessageEnvelopeVariant(t *testing.T) {
	f := newFakePlatform(t, testMachine(testCode))
	f.codeMessage = true
	d := newAPIDriver(t, f)

	id, err := d.CreateOrder(t.Context(), "p1", "https://x.test/a.tif")
	if err != nil {
		t.Fatal(err)
	}
	if id != "9876543210" {
		t.Errorf("order id %q", id)
	}

	f.setRefused(protocol.CallMachineQRCode, "未设置")
	err = d.SetQRCode(t.Context(), "https://relay.test/editor?machine="+testCode)
	var rej *RejectedError
	if !errors.As(err, &rej) || rej.Status != 500 || rej.Msg != "未设置" || rej.Call != protocol.CallMachineQRCode {
		t.Fatalf("err = %#v, want a RejectedError 500 未设置 from machineQRCode", err)
	}
}

func TestCreateOrderSendsTheOrder(t *testing.T) {
	m := testMachine(testCode)
	f := newFakePlatform(t, m)
	d := newAPIDriver(t, f)

	const image = "https://relay.test/files/o1.tif?sig=a&exp=2"
	id, err := d.CreateOrder(t.Context(), "1042", image)
	if err != nil {
		t.Fatal(err)
	}
	if id != "9876543210" {
		t.Errorf("order id %q, want the platform's number as text", id)
	}
	calls := f.callsOf(protocol.CallMachineCreateOrder)
	if len(calls) != 1 {
		t.Fatalf("%d createOrder calls", len(calls))
	}
	want := map[string]string{"device_id": m.DeviceID, "product_id": "1042", "pay_type": "nayax", "image_url": image}
	for k, v := range want {
		if calls[0].Fields[k] != v {
			t.Errorf("%s = %q, want %q", k, calls[0].Fields[k], v)
		}
	}
}

func TestFormEncodingIsAcceptedByThePlatform(t *testing.T) {
	f := newFakePlatform(t, testMachine(testCode))
	d := newAPIDriver(t, f, func(c *Config) { c.Encoding = EncodingForm })
	if _, err := d.CreateOrder(t.Context(), "1042", "https://x.test/a.tif"); err != nil {
		t.Fatal(err)
	}
	calls := append(f.callsOf(protocol.CallMachineDetailsTwo), f.callsOf(protocol.CallMachineCreateOrder)...)
	if len(calls) != 2 {
		t.Fatalf("%d calls reached the platform, want resolve and create", len(calls))
	}
	for _, c := range calls {
		if c.ContentType != "application/x-www-form-urlencoded" {
			t.Errorf("%s sent as %q", c.Name, c.ContentType)
		}
	}
}

func TestSetQRCode(t *testing.T) {
	m := testMachine(testCode)
	f := newFakePlatform(t, m)
	d := newAPIDriver(t, f)
	const qr = "https://relay.test/editor?machine=CT0700026&location=mall-3f"
	if err := d.SetQRCode(t.Context(), qr); err != nil {
		t.Fatal(err)
	}
	calls := f.callsOf(protocol.CallMachineQRCode)
	if len(calls) != 1 || calls[0].Fields["qrcode"] != qr || calls[0].Fields["device_id"] != m.DeviceID {
		t.Fatalf("calls = %+v", calls)
	}
}

func TestMachine(t *testing.T) {
	m := testMachine(testCode)
	want := Machine{
		Code: testCode, DeviceID: m.DeviceID, MachineID: m.MachineID,
		Name: m.Name, Model: "CT-360", Address: m.Address, Online: true,
		Ink: ink.Levels{Cyan: ink.OK, Magenta: ink.Low, Yellow: ink.Unknown, Black: ink.Unknown},
	}
	t.Run("by code", func(t *testing.T) {
		f := newFakePlatform(t, m)
		d := newAPIDriver(t, f)
		got, err := d.Machine(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("Machine = %+v\nwant      %+v", got, want)
		}
		if _, ok := d.cachedIDs(); !ok {
			t.Error("reading the machine did not cache its ids")
		}
	})
	t.Run("by device_id when machineDetailsTwo is refused", func(t *testing.T) {
		f := newFakePlatform(t, m)
		f.setRefused(protocol.CallMachineDetailsTwo, "未设置")
		d := newAPIDriver(t, f)
		got, err := d.Machine(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("Machine = %+v\nwant      %+v", got, want)
		}
		if len(f.callsOf(protocol.CallMachineDetails)) != 1 {
			t.Error("machineDetails was not asked")
		}
	})
	t.Run("offline", func(t *testing.T) {
		off := m
		off.OnlineStatus = "offline"
		d := newAPIDriver(t, newFakePlatform(t, off))
		got, err := d.Machine(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got.Online {
			t.Fatal("an offline machine reads as online")
		}
	})
}

func TestProductsReadsEveryPage(t *testing.T) {
	var brands []protocol.Brand
	for i := range 250 {
		brands = append(brands, protocol.Brand{ID: protocol.Text(strconv.Itoa(i)), NameEN: fmt.Sprintf("brand %d", i),
			ModelList: []protocol.Model{{ProductID: protocol.Text(strconv.Itoa(1000 + i)), NameEN: "model"}}})
	}
	m := testMachine(testCode)
	f := newFakePlatform(t, m)
	f.setBrands(brands)
	d := newAPIDriver(t, f)

	got, err := d.Products(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(brands) {
		t.Fatalf("%d brands, want %d", len(got), len(brands))
	}
	for i := range got {
		if got[i].ID != brands[i].ID {
			t.Fatalf("brand %d is %s, want %s (order kept)", i, got[i].ID, brands[i].ID)
		}
	}
	calls := f.callsOf(protocol.CallMachineProductList)
	if len(calls) != 3 {
		t.Fatalf("%d pages read, want 3", len(calls))
	}
	for i, c := range calls {
		want := map[string]string{"device_id": m.DeviceID, "type": "diy", "status": "1", "page": strconv.Itoa(i + 1), "limit": "100"}
		for k, v := range want {
			if c.Fields[k] != v {
				t.Errorf("page call %d: %s = %q, want %q", i, k, c.Fields[k], v)
			}
		}
	}
}

func TestProductsStopsWhenThePlatformOverstatesCount(t *testing.T) {
	f := newFakePlatform(t, testMachine(testCode))
	d := newAPIDriver(t, f)
	// Claims 500 brands but has none past the first page.
	f.setHook(func(call string, w http.ResponseWriter, _ *http.Request) bool {
		if call != protocol.CallMachineProductList {
			return false
		}
		n := len(f.callsOf(protocol.CallMachineProductList))
		f.mu.Lock()
		f.calls = append(f.calls, fakeCall{Name: call})
		f.mu.Unlock()
		list := `[]`
		if n == 0 {
			list = `[{"id":1,"name_en":"Apple","modelList":[]}]`
		}
		fmt.Fprintf(w, `{"status":200,"msg":"ok","data":{"count":500,"list":%s}}`, list)
		return true
	})
	got, err := d.Products(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(f.callsOf(protocol.CallMachineProductList)) != 2 {
		t.Fatalf("got %d brands in %d pages, want 1 brand in 2 pages", len(got), len(f.callsOf(protocol.CallMachineProductList)))
	}
}

// TestCallFailures pins down which failures are refusals (nothing was
// created) and which are ambiguous.
func TestCallFailures(t *testing.T) {
	tests := []struct {
		name     string
		answer   func(w http.ResponseWriter)
		rejected bool
		wantErr  string
	}{
		{name: "refused 未设置", rejected: true, wantErr: "status 500: 未设置",
			answer: func(w http.ResponseWriter) { fmt.Fprint(w, `{"status":500,"msg":"未设置"}`) }},
		{name: "refused as code/message", rejected: true, wantErr: "status 40001: bad sign",
			answer: func(w http.ResponseWriter) { fmt.Fprint(w, `{"code":"40001","message":"bad sign"}`) }},
		{name: "HTTP 502", wantErr: "HTTP 502",
			answer: func(w http.ResponseWriter) { http.Error(w, "bad gateway", http.StatusBadGateway) }},
		{name: "HTTP 500 with a refusal body", wantErr: "HTTP 500",
			answer: func(w http.ResponseWriter) {
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `{"status":500,"msg":"未设置"}`)
			}},
		{name: "garbage body", wantErr: "decode response",
			answer: func(w http.ResponseWriter) { fmt.Fprint(w, `<html>maintenance</html>`) }},
		{name: "envelope without status", wantErr: "neither status nor code",
			answer: func(w http.ResponseWriter) { fmt.Fprint(w, `{"msg":"ok","data":{"order_id":1}}`) }},
		{name: "accepted without order id", wantErr: "no order_id",
			answer: func(w http.ResponseWriter) { fmt.Fprint(w, `{"status":200,"msg":"ok","data":{}}`) }},
		{name: "accepted without data", wantErr: "no data",
			answer: func(w http.ResponseWriter) { fmt.Fprint(w, `{"status":200,"msg":"ok"}`) }},
		{name: "data of the wrong shape", wantErr: "decode data",
			answer: func(w http.ResponseWriter) { fmt.Fprint(w, `{"status":200,"data":[1,2]}`) }},
		{name: "oversized body", wantErr: "exceeds the 4 MiB limit",
			answer: func(w http.ResponseWriter) {
				fmt.Fprint(w, `{"status":200,"msg":"`)
				chunk := strings.Repeat("a", 64<<10)
				for range 5 << 20 / len(chunk) {
					if _, err := fmt.Fprint(w, chunk); err != nil {
						return
					}
				}
				fmt.Fprint(w, `"}`)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakePlatform(t, testMachine(testCode))
			d := newAPIDriver(t, f)
			d.remember(testMachine(testCode))
			f.setHook(func(call string, w http.ResponseWriter, _ *http.Request) bool {
				tt.answer(w)
				return true
			})
			_, err := d.CreateOrder(t.Context(), "1042", "https://x.test/a.tif")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
			if IsRejected(err) != tt.rejected {
				t.Fatalf("IsRejected = %v, want %v for %v", !tt.rejected, tt.rejected, err)
			}
		})
	}
}

func TestHangingCallsEnd(t *testing.T) {
	hang := func(t *testing.T, f *fakePlatform) {
		release := make(chan struct{})
		// Registered after the server's cleanup, so it runs first and lets
		// the handler return before the server waits for it.
		t.Cleanup(func() { close(release) })
		f.setHook(func(string, http.ResponseWriter, *http.Request) bool {
			<-release
			return true
		})
	}
	t.Run("HTTPTimeout", func(t *testing.T) {
		f := newFakePlatform(t, testMachine(testCode))
		d := newAPIDriver(t, f, func(c *Config) { c.HTTPTimeout = 100 * time.Millisecond })
		d.remember(testMachine(testCode))
		hang(t, f)
		_, err := d.CreateOrder(t.Context(), "1042", "https://x.test/a.tif")
		if !errors.Is(err, context.DeadlineExceeded) || IsRejected(err) {
			t.Fatalf("err = %v, want an ambiguous deadline error", err)
		}
	})
	t.Run("caller's context", func(t *testing.T) {
		f := newFakePlatform(t, testMachine(testCode))
		d := newAPIDriver(t, f)
		d.remember(testMachine(testCode))
		hang(t, f)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := d.CreateOrder(ctx, "1042", "https://x.test/a.tif")
		if !errors.Is(err, context.DeadlineExceeded) || IsRejected(err) {
			t.Fatalf("err = %v, want an ambiguous deadline error", err)
		}
	})
}

func TestPlatformDownIsAmbiguous(t *testing.T) {
	d, err := newDriver(testConfig("http://127.0.0.1:1", testCode))
	if err != nil {
		t.Fatal(err)
	}
	d.remember(testMachine(testCode))
	_, err = d.CreateOrder(t.Context(), "1042", "https://x.test/a.tif")
	if err == nil || IsRejected(err) {
		t.Fatalf("err = %v, want an ambiguous network error", err)
	}
}

func TestSecretIsNeverSent(t *testing.T) {
	// The secret only enters the hash: it must not travel in the body or
	// be logged with the config.
	api := newOpenAPI(testConfig("http://127.0.0.1:1", testCode).withDefaults())
	body, _, err := api.encodeBody(fields{"device_code": testCode})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), testSecret) {
		t.Fatalf("body %s carries the secret", body)
	}
	cfg := testConfig("http://127.0.0.1:1", testCode)
	cfg.MQTTPassword = "mqtt-pw-42"
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", cfg)
	if strings.Contains(logged.String(), testSecret) || strings.Contains(logged.String(), "mqtt-pw-42") {
		t.Fatalf("logged config shows a secret: %s", logged.String())
	}
}
