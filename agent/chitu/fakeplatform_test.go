package chitu

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"casefleet/agent/chitu/protocol"
)

// Credentials of the protocol document's worked examples.
const (
	testAppID  = "ctAPPID0001"
	testSecret = "0123456789abcdef0123456789abcdef"
)

// fakePlatform plays the vendor's open API on 127.0.0.1: it checks every
// request's signature with protocol.Verify and answers as the platform
// does, with faults a test can switch on.
type fakePlatform struct {
	t   testing.TB
	srv *httptest.Server

	mu          sync.Mutex
	machines    []protocol.Machine
	brands      []protocol.Brand
	refuse      map[string]string // call -> msg answered with status 500
	codeMessage bool              // answer {code, message} instead of {status, msg}
	// hook, when set, sees each request first and answers it itself by
	// returning true.
	hook  func(call string, w http.ResponseWriter, r *http.Request) bool
	calls []fakeCall
}

// fakeCall is one request the fake accepted: its name and fields as text.
type fakeCall struct {
	Name        string
	Fields      map[string]string
	ContentType string
}

func newFakePlatform(t testing.TB, machines ...protocol.Machine) *fakePlatform {
	f := &fakePlatform{t: t, machines: machines, refuse: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePlatform) URL() string { return f.srv.URL }

func (f *fakePlatform) setRefused(call, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse[call] = msg
}

func (f *fakePlatform) setHook(h func(call string, w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

func (f *fakePlatform) setBrands(b []protocol.Brand) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.brands = b
}

// callsOf returns the accepted requests of one call.
func (f *fakePlatform) callsOf(name string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakePlatform) serve(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, protocol.PathPrefix)
	if r.Method != http.MethodPost || !ok {
		http.NotFound(w, r)
		return
	}
	// Read the whole body first, as a real server does: only then does
	// net/http notice a client that hangs up, and end r.Context().
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	f.mu.Lock()
	hook := f.hook
	f.mu.Unlock()
	if hook != nil && hook(name, w, r) {
		return
	}
	fields, err := decodeFields(r.Header.Get("Content-Type"), body)
	if err != nil {
		f.answer(w, 400, "bad body: "+err.Error(), nil)
		return
	}
	if fields["appid"] != testAppID || !protocol.Verify(fields, testSecret) {
		f.answer(w, 401, "签名错误", nil)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Name: name, Fields: fields, ContentType: r.Header.Get("Content-Type")})
	msg, refused := f.refuse[name]
	f.mu.Unlock()
	if refused {
		f.answer(w, 500, msg, nil)
		return
	}
	switch name {
	case protocol.CallMachineDetailsTwo:
		m, ok := f.machine(func(m protocol.Machine) bool { return m.DeviceCode == fields["device_code"] })
		if !ok {
			f.answer(w, 500, "设备不存在", nil)
			return
		}
		f.answer(w, 200, "ok", protocol.MachineDetailsData{Data: m})
	case protocol.CallMachineDetails:
		m, ok := f.machine(func(m protocol.Machine) bool { return m.DeviceID == fields["device_id"] })
		if !ok {
			f.answer(w, 500, "设备不存在", nil)
			return
		}
		f.answer(w, 200, "ok", protocol.MachineDetailsData{Data: m})
	case protocol.CallMachineList:
		f.mu.Lock()
		all := f.machines
		f.mu.Unlock()
		f.answer(w, 200, "ok", protocol.MachineListData{Count: len(all), List: page(all, fields)})
	case protocol.CallMachineProductList:
		if fields["type"] != "diy" || fields["status"] != "1" {
			f.answer(w, 500, "unexpected type or status", nil)
			return
		}
		f.mu.Lock()
		all := f.brands
		f.mu.Unlock()
		f.answer(w, 200, "ok", protocol.ProductListData{Count: len(all), List: page(all, fields)})
	case protocol.CallMachineCreateOrder:
		if fields["product_id"] == "" || fields["image_url"] == "" || fields["pay_type"] == "" {
			f.answer(w, 500, "参数错误", nil)
			return
		}
		// The platform sends order ids as numbers.
		f.answer(w, 200, "ok", json.RawMessage(`{"order_id":9876543210}`))
	case protocol.CallMachineQRCode:
		f.answer(w, 200, "ok", nil)
	default:
		f.answer(w, 404, "no such call", nil)
	}
}

func (f *fakePlatform) machine(match func(protocol.Machine) bool) (protocol.Machine, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.machines {
		if match(m) {
			return m, true
		}
	}
	return protocol.Machine{}, false
}

func (f *fakePlatform) answer(w http.ResponseWriter, status int, msg string, data any) {
	body := map[string]any{"status": status, "msg": msg}
	f.mu.Lock()
	if f.codeMessage {
		body = map[string]any{"code": status, "message": msg}
	}
	f.mu.Unlock()
	if data != nil {
		body["data"] = data
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(body); err != nil {
		f.t.Errorf("fake platform: %v", err)
	}
}

// page cuts one page out of a listing, as the platform pages with page and
// limit.
func page[T any](all []T, fields map[string]string) []T {
	p, err1 := strconv.Atoi(fields["page"])
	limit, err2 := strconv.Atoi(fields["limit"])
	if err1 != nil || err2 != nil || p < 1 || limit < 1 {
		return nil
	}
	start := (p - 1) * limit
	if start >= len(all) {
		return []T{}
	}
	return all[start:min(start+limit, len(all))]
}

// decodeFields reads a JSON or form body into plain text fields, numbers in
// decimal, which is what the signature covers.
func decodeFields(contentType string, body []byte) (map[string]string, error) {
	out := map[string]string{}
	if strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		for k := range form {
			out[k] = form.Get(k)
		}
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			out[k] = v
		case json.Number:
			out[k] = v.String()
		default:
			return nil, &json.UnsupportedValueError{Str: k}
		}
	}
	return out, nil
}
