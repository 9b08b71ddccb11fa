package sim

import (
	"fmt"
	"net/http"
	"time"
)

// maxFaultDelay bounds a scripted delay.
const maxFaultDelay = 10 * time.Minute

// Fault scripts a slow or failing open API. A call matches when Call is
// empty or names it and Machine is empty or is the machine the call is
// about (by device_id or device_code). The first matching fault applies.
//
// A fault with only a delay answers normally after the delay, having done
// the call's work first: a machineCreateOrder that the client gives up on
// still leaves its order behind, as on the real platform. A fault with a
// Status or an HTTPStatus refuses the call after the delay and does nothing.
type Fault struct {
	ID      int    `json:"id"`
	Machine string `json:"machine,omitempty"`
	Call    string `json:"call,omitempty"`
	DelayMs int    `json:"delayMs,omitempty"`
	// Status and Msg are the envelope of the refusal ({"status","msg"});
	// Msg defaults to 系统繁忙 (system busy).
	Status int    `json:"status,omitempty"`
	Msg    string `json:"msg,omitempty"`
	// HTTPStatus is the HTTP status of the refusal (default 200). Without
	// a Status the body is a plain-text error page, as from a gateway.
	HTTPStatus int `json:"httpStatus,omitempty"`
	// Count is how many calls the fault applies to; 0 means until cleared.
	Count int `json:"count"`
	// Hits counts the calls it has applied to.
	Hits int `json:"hits"`
}

func (f Fault) delay() time.Duration { return time.Duration(f.DelayMs) * time.Millisecond }

// refuses reports whether the fault answers with an error instead of
// doing the call.
func (f Fault) refuses() bool {
	return f.Status != 0 || (f.HTTPStatus != 0 && f.HTTPStatus != http.StatusOK)
}

func (f Fault) validate(knownMachine func(string) bool) error {
	switch {
	case f.Machine != "" && !knownMachine(f.Machine):
		return fmt.Errorf("%w: unknown machine %q", errBadInput, f.Machine)
	case f.Call != "" && openAPICalls[f.Call] == nil:
		return fmt.Errorf("%w: unknown call %q", errBadInput, f.Call)
	case f.DelayMs < 0 || f.delay() > maxFaultDelay:
		return fmt.Errorf("%w: delayMs %d out of range 0..%d", errBadInput, f.DelayMs, maxFaultDelay.Milliseconds())
	case f.Status == http.StatusOK:
		return fmt.Errorf("%w: status 200 is not a fault; leave it out for a delay only", errBadInput)
	case f.HTTPStatus != 0 && (f.HTTPStatus < 200 || f.HTTPStatus > 599):
		return fmt.Errorf("%w: httpStatus %d", errBadInput, f.HTTPStatus)
	case f.Count < 0:
		return fmt.Errorf("%w: negative count", errBadInput)
	case f.DelayMs == 0 && !f.refuses():
		return fmt.Errorf("%w: a fault needs a delayMs, a status or an httpStatus", errBadInput)
	}
	return nil
}

// addFault installs a fault and returns it with its id.
func (s *Sim) addFault(f Fault) (Fault, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := f.validate(func(code string) bool { return s.byCode[code] != nil }); err != nil {
		return Fault{}, err
	}
	if f.Status != 0 && f.Msg == "" {
		f.Msg = "系统繁忙"
	}
	s.faultSeq++
	f.ID, f.Hits = s.faultSeq, 0
	s.faults = append(s.faults, &f)
	s.log.Info("fault added", "fault", f.ID, "call", f.Call, "machine", f.Machine,
		"delayMs", f.DelayMs, "status", f.Status, "httpStatus", f.HTTPStatus, "count", f.Count)
	return f, nil
}

// clearFaults removes every fault.
func (s *Sim) clearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.log.Info("faults cleared")
}

func (s *Sim) faultList() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		out = append(out, *f)
	}
	return out
}

// takeFault finds the fault that applies to a call about machine code (""
// when the call names no machine), counts the hit and drops the fault when
// it is used up.
func (s *Sim) takeFault(call, code string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Call != "" && f.Call != call) || (f.Machine != "" && f.Machine != code) {
			continue
		}
		f.Hits++
		if f.Count > 0 && f.Hits >= f.Count {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return *f, true
	}
	return Fault{}, false
}

// writeFault answers a call as the fault refuses it.
func writeFault(w http.ResponseWriter, f Fault) {
	httpStatus := f.HTTPStatus
	if httpStatus == 0 {
		httpStatus = http.StatusOK
	}
	if f.Status == 0 {
		http.Error(w, http.StatusText(httpStatus), httpStatus)
		return
	}
	writeEnvelope(w, httpStatus, f.Status, f.Msg, nil)
}
