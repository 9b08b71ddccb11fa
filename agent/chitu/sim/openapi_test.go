package sim

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"casefleet/agent/chitu/protocol"
)

func TestOpenAPISignature(t *testing.T) {
	ts := newTestSim(t)
	good := signed(map[string]string{"device_code": codeA})
	wrongApp := map[string]string{"appid": "someone-else", "device_code": codeA}
	wrongApp["sign"] = protocol.Sign(wrongApp, testSecret)
	tampered := signed(map[string]string{"device_code": codeA})
	tampered["device_code"] = codeB
	unsigned := map[string]string{"appid": testAppID, "device_code": codeA}
	otherSecret := map[string]string{"appid": testAppID, "device_code": codeA}
	otherSecret["sign"] = protocol.Sign(otherSecret, "not-the-secret")

	tests := []struct {
		name        string
		contentType string
		body        []byte
		wantStatus  int
	}{
		{"JSON body, good signature", "application/json", mustJSON(good), 200},
		{"form body, good signature", "application/x-www-form-urlencoded", formBody(good), 200},
		{"the protocol document's worked example", "application/json",
			[]byte(`{"appid":"ctAPPID0001","device_code":"CT0700026","sign":"3357d086dd55cdcb6b06841b657c4c29dfb9e5f08b2284612e2c190701989c47"}`), 200},
		{"missing sign", "application/json", mustJSON(unsigned), 401},
		{"sign made with another secret", "application/json", mustJSON(otherSecret), 401},
		{"field changed after signing", "application/json", mustJSON(tampered), 401},
		{"another app's id, signed with our secret", "application/json", mustJSON(wrongApp), 401},
		{"upper-case hex sign", "application/json", mustJSON(withUpperSign(good)), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := ts.post(t, protocol.CallMachineDetailsTwo, tt.contentType, tt.body)
			env := decodeEnvelope(t, resp, data)
			if env.Status != tt.wantStatus {
				t.Fatalf("status %d %q, want %d", env.Status, env.Msg, tt.wantStatus)
			}
			if tt.wantStatus == 401 && (env.Msg != "签名错误" || strings.TrimSpace(string(data)) != `{"status":401,"msg":"签名错误"}`) {
				t.Fatalf("refusal %s, want the platform's {\"status\":401,\"msg\":\"签名错误\"}", data)
			}
		})
	}
}

func TestOpenAPIRefusesMalformedBodies(t *testing.T) {
	ts := newTestSim(t)
	tests := []struct {
		name        string
		contentType string
		body        string
		wantHTTP    int
		wantStatus  int
	}{
		{"empty", "application/json", "", 200, 400},
		{"not JSON", "application/json", "{nope", 200, 400},
		{"nested value", "application/json", `{"appid":{"x":1}}`, 200, 400},
		{"XML", "text/xml", "<a/>", 200, 400},
		{"form field twice", "application/x-www-form-urlencoded", "appid=a&appid=b", 200, 400},
		{"oversized", "application/json", `{"appid":"` + strings.Repeat("x", MaxBodySize) + `"}`, 413, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := ts.post(t, protocol.CallMachineList, tt.contentType, []byte(tt.body))
			if resp.StatusCode != tt.wantHTTP {
				t.Fatalf("HTTP %d, want %d", resp.StatusCode, tt.wantHTTP)
			}
			var env protocol.Envelope
			if err := json.Unmarshal(data, &env); err != nil || env.Status != tt.wantStatus {
				t.Fatalf("body %s (%v), want status %d", data, err, tt.wantStatus)
			}
		})
	}
}

func TestOpenAPIUnknownCall(t *testing.T) {
	ts := newTestSim(t)
	resp, data := ts.post(t, "machineSelfDestruct", "application/json", mustJSON(signed(nil)))
	var env protocol.Envelope
	if resp.StatusCode != http.StatusNotFound || json.Unmarshal(data, &env) != nil || env.Status != 404 {
		t.Fatalf("HTTP %d %s, want a 404 envelope", resp.StatusCode, data)
	}
	get, err := http.Get(ts.url + protocol.PathPrefix + protocol.CallMachineList)
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	if get.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET answered %d, want 405", get.StatusCode)
	}
}

func TestUnknownDevice(t *testing.T) {
	ts := newTestSim(t)
	for _, call := range []string{
		protocol.CallMachineDetails, protocol.CallMachineProductList, protocol.CallMachineCreateOrder,
		protocol.CallMachineQRCode, protocol.CallQueryPaymentConfig, protocol.CallMachineInventoryInfo,
	} {
		t.Run(call, func(t *testing.T) {
			env := ts.call(t, call, map[string]string{"device_id": deviceID("CT9999999"), "product_id": "101",
				"pay_type": "nayax", "image_url": "http://127.0.0.1/x.tif", "qrcode": "http://x"})
			refused(t, env, 500, "设备不存在")
		})
	}
	t.Run(protocol.CallMachineDetailsTwo, func(t *testing.T) {
		refused(t, ts.call(t, protocol.CallMachineDetailsTwo, map[string]string{"device_code": "CT9999999"}), 500, "设备不存在")
	})
}

func TestMachineRecords(t *testing.T) {
	ts := newTestSim(t)
	var two, one protocol.MachineDetailsData
	ok(t, ts.call(t, protocol.CallMachineDetailsTwo, map[string]string{"device_code": codeA}), &two)
	m := two.Data
	if m.DeviceID != "ZGV2LUNUMDcwMDAyNg==" {
		t.Errorf("device_id %q, want base64 of dev-%s as in the protocol document", m.DeviceID, codeA)
	}
	if m.DeviceCode != codeA || !m.Online() || m.MachineID == "" || m.MachineModel != "CT-360" || m.Name == "" {
		t.Errorf("record %+v", m)
	}
	if m.WhiteSugar != "0" || m.BlueSugar != "0" || m.YellowSugar != "0" || m.RedSugar != "0" {
		t.Errorf("ink sugars %+v, want all sufficient", m)
	}
	ok(t, ts.call(t, protocol.CallMachineDetails, map[string]string{"device_id": m.DeviceID}), &one)
	if one.Data != m {
		t.Errorf("machineDetails %+v differs from machineDetailsTwo %+v", one.Data, m)
	}
	var sjk protocol.MachineDetailsData
	ok(t, ts.call(t, protocol.CallMachineDetailsTwo, map[string]string{"device_code": codeSJK}), &sjk)
	if sjk.Data.MachineModel != "CT-sjk360" {
		t.Errorf("%s model %q", codeSJK, sjk.Data.MachineModel)
	}
	if sjk.Data.MachineID == m.MachineID {
		t.Error("two machines share a machineId")
	}
}

func TestMachineListPages(t *testing.T) {
	ts := newTestSim(t)
	tests := []struct {
		page, limit string
		want        []string
	}{
		{"1", "2", []string{codeA, codeB}},
		{"2", "2", []string{codeSJK}},
		{"3", "2", nil},
		{"", "", []string{codeA, codeB, codeSJK}},
	}
	for _, tt := range tests {
		var data protocol.MachineListData
		ok(t, ts.call(t, protocol.CallMachineList, map[string]string{"page": tt.page, "limit": tt.limit}), &data)
		var got []string
		for _, m := range data.List {
			got = append(got, m.DeviceCode)
		}
		if data.Count != 3 || strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("page %s limit %s: count %d, list %v, want 3 and %v", tt.page, tt.limit, data.Count, got, tt.want)
		}
	}
	for _, bad := range []map[string]string{{"page": "0"}, {"page": "x"}, {"limit": "-1"}, {"limit": "1e3"}} {
		refused(t, ts.call(t, protocol.CallMachineList, bad), 400, "参数错误")
	}
}

func TestMachineProductList(t *testing.T) {
	ts := newTestSim(t)
	var data protocol.ProductListData
	ok(t, ts.call(t, protocol.CallMachineProductList, map[string]string{
		"device_id": deviceID(codeA), "type": "diy", "status": "1", "page": "1", "limit": "100"}), &data)
	if data.Count != len(catalogue) || len(data.List) != len(catalogue) {
		t.Fatalf("count %d, %d brands, want %d", data.Count, len(data.List), len(catalogue))
	}
	seen := map[string]bool{}
	for _, b := range data.List {
		if b.ID == "" || b.NameCN == "" || b.NameEN == "" || len(b.ModelList) < 2 {
			t.Errorf("brand %+v", b)
		}
		for _, m := range b.ModelList {
			if m.Product() == "" || seen[m.Product()] || m.NameEN == "" || m.Price == "" || m.Stock == "" {
				t.Errorf("model %+v", m)
			}
			seen[m.Product()] = true
			if m.PrintImg != ts.url+"/assets/print/"+m.Product()+".png" || m.ShowImg != ts.url+"/assets/show/"+m.Product()+".png" {
				t.Errorf("model %s images %s, %s: want absolute URLs on the sim", m.Product(), m.PrintImg, m.ShowImg)
			}
		}
	}

	// The template behind print_img has the size the print file must have.
	p, _ := productByID("101")
	resp, err := http.Get(data.List[0].ModelList[0].PrintImg)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cfg, err := png.DecodeConfig(resp.Body)
	if err != nil || cfg.Width != p.printSize().X || cfg.Height != p.printSize().Y {
		t.Fatalf("print_img %dx%d (%v), want %v", cfg.Width, cfg.Height, err, p.printSize())
	}

	var page2 protocol.ProductListData
	ok(t, ts.call(t, protocol.CallMachineProductList, map[string]string{
		"device_id": deviceID(codeA), "type": "diy", "page": "2", "limit": "3"}), &page2)
	if page2.Count != len(catalogue) || len(page2.List) != 1 || page2.List[0].NameEN != catalogue[3].nameEN {
		t.Errorf("page 2 of 3: %+v", page2)
	}
	var ready protocol.ProductListData
	ok(t, ts.call(t, protocol.CallMachineProductList, map[string]string{"device_id": deviceID(codeA), "type": "default"}), &ready)
	if ready.Count != 0 || ready.List == nil {
		t.Errorf("type default: %+v, want an empty list", ready)
	}
	refused(t, ts.call(t, protocol.CallMachineProductList, map[string]string{"device_id": deviceID(codeA), "type": "cups"}), 400, "参数错误")
}

func TestMachineQRCode(t *testing.T) {
	ts := newTestSim(t)
	const qr = "https://relay.example/editor?machine=CT0700026&location=mall-3f"
	ok(t, ts.call(t, protocol.CallMachineQRCode, map[string]string{"device_id": deviceID(codeA), "qrcode": qr}), nil)
	var st State
	ts.admin(t, http.MethodGet, "/admin/state", "", http.StatusOK, &st)
	if st.Machines[0].QRCode != qr {
		t.Fatalf("admin state shows QR %q, want %q", st.Machines[0].QRCode, qr)
	}
	refused(t, ts.call(t, protocol.CallMachineQRCode, map[string]string{"device_id": deviceID(codeA)}), 400, "参数错误")
	refused(t, ts.call(t, protocol.CallMachineQRCode, map[string]string{"device_id": deviceID(codeA),
		"qrcode": strings.Repeat("q", maxQRCodeLen+1)}), 400, "参数错误")
}

func TestPaymentConfig(t *testing.T) {
	ts := newTestSim(t)
	var data struct {
		PayWayList []string `json:"payWayList"`
	}
	ok(t, ts.call(t, protocol.CallQueryPaymentConfig, map[string]string{"device_id": deviceID(codeA)}), &data)
	if strings.Join(data.PayWayList, ",") != "nayax,ict,vpos,saobei" {
		t.Fatalf("payWayList %v", data.PayWayList)
	}
}

func TestInventoryOnlyOnSJK360(t *testing.T) {
	ts := newTestSim(t)
	var inv struct {
		Stock []struct {
			Column []struct {
				Index     int    `json:"index"`
				ProductID string `json:"product_id"`
				Stock     int    `json:"stock"`
			} `json:"column"`
		} `json:"stock"`
		ProList []struct {
			Text  string `json:"text"`
			Value string `json:"value"`
		} `json:"proList"`
	}
	ok(t, ts.call(t, protocol.CallMachineInventoryInfo, map[string]string{"device_id": deviceID(codeSJK)}), &inv)
	if len(inv.Stock) == 0 || len(inv.Stock[0].Column) == 0 || len(inv.ProList) == 0 {
		t.Fatalf("inventory %+v", inv)
	}
	slot := inv.Stock[0].Column[0]
	if _, known := productByID(slot.ProductID); !known || slot.Index != 1 || slot.Stock <= 0 {
		t.Errorf("first slot %+v", slot)
	}
	refused(t, ts.call(t, protocol.CallMachineInventoryInfo, map[string]string{"device_id": deviceID(codeA)}), 500, "")
}

func TestCreateOrderRefusals(t *testing.T) {
	ts := newTestSim(t)
	files := newFileServer(t, map[string][]byte{"/a.tif": goodTIFF(t)})
	base := map[string]string{"device_id": deviceID(codeA), "product_id": "101", "pay_type": "nayax", "image_url": files.url + "/a.tif"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		m[k] = v
		return m
	}
	refused(t, ts.call(t, protocol.CallMachineCreateOrder, with("product_id", "999")), 500, "商品不存在")
	refused(t, ts.call(t, protocol.CallMachineCreateOrder, with("pay_type", "bitcoin")), 500, "支付方式未开通")
	refused(t, ts.call(t, protocol.CallMachineCreateOrder, with("image_url", "")), 400, "参数错误")
	var orders struct{ Orders []OrderView }
	ts.admin(t, http.MethodGet, "/admin/orders", "", http.StatusOK, &orders)
	if len(orders.Orders) != 0 {
		t.Fatalf("refused calls created %d orders", len(orders.Orders))
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func withUpperSign(fields map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range fields {
		out[k] = v
	}
	out["sign"] = strings.ToUpper(out["sign"])
	return out
}

func BenchmarkOpenAPIMachineDetails(b *testing.B) {
	s, err := New(Config{Machines: []string{codeA}, AppID: testAppID, AppSecret: testSecret,
		MQTTPassword: testMQTTPass, Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	body := mustJSON(signed(map[string]string{"device_code": codeA}))
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, protocol.PathPrefix+protocol.CallMachineDetailsTwo, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
