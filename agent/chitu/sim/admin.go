package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Admin API errors, mapped to HTTP statuses.
var (
	errUnknownMachine = errors.New("unknown machine")
	errUnknownOrder   = errors.New("unknown order")
	errBadInput       = errors.New("bad input")
	errConflict       = errors.New("conflict")
)

// maxAdminBody bounds an admin request body.
const maxAdminBody = 64 << 10

// State is everything the sim knows, as GET /admin/state shows it.
type State struct {
	Machines []MachineView `json:"machines"`
	Orders   []OrderView   `json:"orders"`
	Faults   []Fault       `json:"faults"`
	Config   ConfigView    `json:"config"`
}

// ConfigView is the sim's timing, as /admin/config shows and takes it.
// PaySeconds < 0 means payment waits for POST /admin/orders/{id}/pay.
// FetchSeconds is how long after an order the machine fetches its file.
type ConfigView struct {
	PrintSeconds float64 `json:"printSeconds"`
	PaySeconds   float64 `json:"paySeconds"`
	FetchSeconds float64 `json:"fetchSeconds"`
}

func (s *Sim) routeAdmin(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/state", s.adminState)
	mux.HandleFunc("GET /admin/orders", s.adminOrders)
	mux.HandleFunc("GET /admin/orders/{id}", s.adminOrder)
	mux.HandleFunc("POST /admin/orders/{id}/pay", s.adminPay)
	mux.HandleFunc("POST /admin/orders/{id}/fail", s.adminFail)
	mux.HandleFunc("POST /admin/machines/{code}/online", s.adminOnline(true))
	mux.HandleFunc("POST /admin/machines/{code}/offline", s.adminOnline(false))
	mux.HandleFunc("POST /admin/machines/{code}/ink", s.adminInk)
	mux.HandleFunc("GET /admin/faults", s.adminFaults)
	mux.HandleFunc("POST /admin/faults", s.adminAddFault)
	mux.HandleFunc("DELETE /admin/faults", s.adminClearFaults)
	mux.HandleFunc("GET /admin/config", s.adminConfig)
	mux.HandleFunc("POST /admin/config", s.adminSetConfig)
}

func (s *Sim) adminState(w http.ResponseWriter, _ *http.Request) {
	st := State{Orders: s.orderViews(""), Faults: s.faultList(), Config: s.config()}
	s.mu.Lock()
	for _, m := range s.machines {
		st.Machines = append(st.Machines, s.machineViewLocked(m))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, st)
}

func (s *Sim) adminOrders(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("machine")
	if code != "" && !s.knownMachine(code) {
		writeAdminError(w, fmt.Errorf("%w: %s", errUnknownMachine, code))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"orders": s.orderViews(code)})
}

func (s *Sim) adminOrder(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	o := s.byOrderID[r.PathValue("id")]
	var v OrderView
	if o != nil {
		v = o.view()
	}
	s.mu.Unlock()
	if o == nil {
		writeAdminError(w, fmt.Errorf("%w: %s", errUnknownOrder, r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Sim) adminPay(w http.ResponseWriter, r *http.Request) {
	v, err := s.payOrder(r.PathValue("id"))
	respond(w, v, err)
}

func (s *Sim) adminFail(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Reason string `json:"reason"`
	}
	if err := readJSON(r, &body); err != nil {
		writeAdminError(w, err)
		return
	}
	v, err := s.failOrder(r.PathValue("id"), body.Reason)
	respond(w, v, err)
}

func (s *Sim) adminOnline(online bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := s.setOnline(r.PathValue("code"), online)
		respond(w, v, err)
	}
}

func (s *Sim) adminInk(w http.ResponseWriter, r *http.Request) {
	var levels map[string]string
	if err := readJSON(r, &levels); err != nil {
		writeAdminError(w, err)
		return
	}
	v, err := s.setInk(r.PathValue("code"), levels)
	respond(w, v, err)
}

func (s *Sim) adminFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"faults": s.faultList()})
}

func (s *Sim) adminAddFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if err := readJSON(r, &f); err != nil {
		writeAdminError(w, err)
		return
	}
	f, err := s.addFault(f)
	if err != nil {
		writeAdminError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, f)
}

func (s *Sim) adminClearFaults(w http.ResponseWriter, _ *http.Request) {
	s.clearFaults()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) adminConfig(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.config())
}

func (s *Sim) adminSetConfig(w http.ResponseWriter, r *http.Request) {
	var body struct {
		PrintSeconds *float64 `json:"printSeconds"`
		PaySeconds   *float64 `json:"paySeconds"`
		FetchSeconds *float64 `json:"fetchSeconds"`
	}
	if err := readJSON(r, &body); err != nil {
		writeAdminError(w, err)
		return
	}
	if body.PrintSeconds != nil && (*body.PrintSeconds < 0 || *body.PrintSeconds > 86400) {
		writeAdminError(w, fmt.Errorf("%w: printSeconds %v out of range 0..86400", errBadInput, *body.PrintSeconds))
		return
	}
	if body.PaySeconds != nil && *body.PaySeconds > 86400 {
		writeAdminError(w, fmt.Errorf("%w: paySeconds %v over 86400", errBadInput, *body.PaySeconds))
		return
	}
	if body.FetchSeconds != nil && (*body.FetchSeconds < 0 || *body.FetchSeconds > 86400) {
		writeAdminError(w, fmt.Errorf("%w: fetchSeconds %v out of range 0..86400", errBadInput, *body.FetchSeconds))
		return
	}
	s.mu.Lock()
	if body.PrintSeconds != nil {
		s.printTime = seconds(*body.PrintSeconds)
	}
	if body.PaySeconds != nil {
		s.payDelay = seconds(*body.PaySeconds)
	}
	if body.FetchSeconds != nil {
		s.fetchDelay = seconds(*body.FetchSeconds)
	}
	s.mu.Unlock()
	cfg := s.config()
	s.log.Info("timing changed", "printSeconds", cfg.PrintSeconds, "paySeconds", cfg.PaySeconds, "fetchSeconds", cfg.FetchSeconds)
	writeJSON(w, http.StatusOK, cfg)
}

func (s *Sim) config() ConfigView {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := ConfigView{PrintSeconds: s.printTime.Seconds(), PaySeconds: s.payDelay.Seconds(), FetchSeconds: s.fetchDelay.Seconds()}
	if s.payDelay < 0 {
		cfg.PaySeconds = -1
	}
	return cfg
}

func (s *Sim) knownMachine(code string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byCode[code] != nil
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// readJSON decodes an admin request body into v; an empty body leaves v
// as it is. Unknown fields are refused, so that a script's typo shows.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); errors.Is(err, io.EOF) {
		return nil
	} else if err != nil {
		return fmt.Errorf("%w: %v", errBadInput, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the JSON value", errBadInput)
	}
	return nil
}

func respond(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeAdminError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func writeAdminError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, errUnknownMachine), errors.Is(err, errUnknownOrder):
		status = http.StatusNotFound
	case errors.Is(err, errBadInput):
		status = http.StatusBadRequest
	case errors.Is(err, errConflict):
		status = http.StatusConflict
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
