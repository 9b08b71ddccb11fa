package push

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"casefleet/agent/session"
)

// Handler serves the subscription API under
// /api/chitu/machine/{code}/push (the customer API checks the code):
//
//	GET    .../push/key  {"publicKey": "<base64url>"}
//	POST   .../push      subscribe this session (header X-Session-Id; body: ParseSubscription)
//	DELETE .../push      unsubscribe this session
//
// Errors are {"error": {"code", "message"}}, as in the rest of the API.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	const base = "/api/chitu/machine/{code}/push"
	mux.HandleFunc("GET "+base+"/key", s.serveKey)
	mux.HandleFunc("POST "+base, s.subscribe)
	mux.HandleFunc("DELETE "+base, s.unsubscribe)
	mux.HandleFunc(base, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "POST, DELETE")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Use POST to subscribe or DELETE to unsubscribe.")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "There is nothing at this address.")
	})
	return mux
}

func (s *Service) serveKey(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"publicKey": s.key.public})
}

func (s *Service) subscribe(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.session(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSubscriptionBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "The subscription is too large.")
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "bad_request", "The subscription arrived incomplete.")
		return
	}
	sub, err := ParseSubscription(body)
	if err == nil {
		err = CheckEndpoint(sub.Endpoint, s.opt.AllowedHosts)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_subscription", err.Error())
		return
	}
	err = s.store.put(record{
		SessionID: sess.SessionID, Endpoint: sub.Endpoint, P256DH: sub.P256DH, Auth: sub.Auth,
		Lang: sub.Lang, Created: s.opt.Now().UTC(),
	})
	if errors.Is(err, errFull) {
		writeError(w, http.StatusServiceUnavailable, "push_full", "Notifications are not available right now.")
		return
	}
	if err != nil {
		s.log.Error("store push subscription", "session", sess.SessionID, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "Something went wrong on our side. Please try again.")
		return
	}
	s.log.Info("push subscription stored", "session", sess.SessionID)
	writeJSON(w, http.StatusCreated, map[string]any{"subscribed": true, "lang": sub.Lang})
}

func (s *Service) unsubscribe(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.session(w, r)
	if !ok {
		return
	}
	if err := s.store.delete(sess.SessionID, ""); err != nil {
		s.log.Error("delete push subscription", "session", sess.SessionID, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "Something went wrong on our side. Please try again.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// session authenticates the request's X-Session-Id for this machine.
func (s *Service) session(w http.ResponseWriter, r *http.Request) (session.Session, bool) {
	id := r.Header.Get("X-Session-Id")
	if id == "" {
		writeError(w, http.StatusBadRequest, "session_required", "Send the session id (X-Session-Id).")
		return session.Session{}, false
	}
	if !session.ValidID(id) {
		writeError(w, http.StatusForbidden, "session_invalid", "This session has ended. Please scan the QR code again.")
		return session.Session{}, false
	}
	sess, err := s.opt.Sessions.GetForMachine(s.opt.MachineCode, id)
	switch {
	case errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrExpired), errors.Is(err, session.ErrWrongMachine):
		writeError(w, http.StatusForbidden, "session_invalid", "This session has ended. Please scan the QR code again.")
		return session.Session{}, false
	case err != nil:
		s.log.Error("read session", "session", id, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "Something went wrong on our side. Please try again.")
		return session.Session{}, false
	}
	return sess, true
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
