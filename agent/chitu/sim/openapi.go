package sim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"casefleet/agent/chitu/protocol"
)

// apiError is the platform's refusal of a call: HTTP 200 with an error
// envelope.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return strconv.Itoa(e.status) + " " + e.msg }

var (
	errBadSign       = &apiError{401, "签名错误"}
	errNoSuchDevice  = &apiError{500, "设备不存在"}
	errNoSuchProduct = &apiError{500, "商品不存在"}
	errPayTypeOff    = &apiError{500, "支付方式未开通"}
	errNoInventory   = &apiError{500, "该设备型号不支持库存"}
)

func badParam(name string) *apiError { return &apiError{400, "参数错误: " + name} }

// openAPICall does one call for a verified request and returns its data.
type openAPICall func(s *Sim, r *http.Request, fields map[string]string) (any, error)

var openAPICalls = map[string]openAPICall{
	protocol.CallMachineList:          (*Sim).machineList,
	protocol.CallMachineDetails:       (*Sim).machineDetails,
	protocol.CallMachineDetailsTwo:    (*Sim).machineDetailsTwo,
	protocol.CallMachineProductList:   (*Sim).machineProductList,
	protocol.CallMachineCreateOrder:   (*Sim).machineCreateOrder,
	protocol.CallMachineQRCode:        (*Sim).machineQRCode,
	protocol.CallQueryPaymentConfig:   (*Sim).machineQueryPaymentConfig,
	protocol.CallMachineInventoryInfo: (*Sim).machineInventoryInfo,
}

// serveOpenAPI serves POST /api/openApi/{name}: parse and verify the body,
// apply any scripted fault, do the call.
func (s *Sim) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	call := openAPICalls[name]
	if call == nil {
		writeEnvelope(w, http.StatusNotFound, http.StatusNotFound, "接口不存在", nil)
		return
	}
	fields, err := parseBody(r.Header.Get("Content-Type"), r.Body)
	switch {
	case errors.Is(err, errBodyTooLarge):
		writeEnvelope(w, http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge, "请求体过大", nil)
		return
	case err != nil:
		s.log.Info("open API: bad body", "call", name, "err", err)
		writeEnvelope(w, http.StatusOK, 400, "参数错误: "+err.Error(), nil)
		return
	}
	if fields["appid"] != s.appID || !protocol.Verify(fields, s.appSecret) {
		s.log.Info("open API: bad signature", "call", name)
		writeAPIError(w, errBadSign)
		return
	}
	code := s.machineCodeOf(fields)
	fault, faulty := s.takeFault(name, code)
	if faulty && fault.refuses() {
		if s.sleepFault(w, r, fault) {
			writeFault(w, fault)
		}
		return
	}
	data, err := call(s, r, fields)
	if faulty && !s.sleepFault(w, r, fault) {
		return
	}
	if err != nil {
		s.log.Info("open API call refused", "call", name, "machine", code, "err", err)
		writeAPIError(w, err)
		return
	}
	s.log.Debug("open API call", "call", name, "machine", code)
	writeEnvelope(w, http.StatusOK, protocol.StatusOK, "success", data)
}

// sleepFault waits out a fault's delay. When the sim closes meanwhile it
// answers 503 and returns false (as it does when the client went away).
func (s *Sim) sleepFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	if err := sleep(ctx, s.clock, f.delay()); err != nil {
		http.Error(w, "simulator stopping", http.StatusServiceUnavailable)
		return false
	}
	return true
}

// machineCodeOf names the machine a call is about, or "".
func (s *Sim) machineCodeOf(fields map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.byDevice[fields["device_id"]]; m != nil {
		return m.code
	}
	if m := s.byCode[fields["device_code"]]; m != nil {
		return m.code
	}
	return ""
}

func writeAPIError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{500, err.Error()}
	}
	writeEnvelope(w, http.StatusOK, ae.status, ae.msg, nil)
}

// writeEnvelope writes {"status","msg","data"} with the given HTTP status.
func writeEnvelope(w http.ResponseWriter, httpStatus, status int, msg string, data any) {
	env := protocol.Envelope{Status: status, Msg: msg}
	if data != nil {
		raw, err := json.Marshal(data)
		if err != nil {
			env = protocol.Envelope{Status: 500, Msg: "系统错误"}
		} else {
			env.Data = raw
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(httpStatus)
	json.NewEncoder(w).Encode(env)
}
