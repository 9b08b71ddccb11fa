package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"casefleet/agent/queue"
	"casefleet/agent/session"
)

// maxSessionBody bounds the body of POST .../session (it may carry the
// design in progress).
const maxSessionBody = 32 << 10

// publicSession is the session shape of product.md.
type publicSession struct {
	SessionID     string          `json:"sessionId"`
	MachineCode   string          `json:"machineCode"`
	StartTime     time.Time       `json:"startTime"`
	CurrentDesign json.RawMessage `json:"currentDesign,omitempty"`
	OrderStatus   string          `json:"orderStatus"`
	OrderID       string          `json:"orderId,omitempty"`
	Resumed       bool            `json:"resumed"`
}

// startSession starts a session, or resumes the one named in the body
// (and saves the design in progress when the body carries one).
func (s *Server) startSession(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		SessionID     string          `json:"sessionId"`
		CurrentDesign json.RawMessage `json:"currentDesign"`
	}
	if err := decodeJSON(w, r, maxSessionBody, &body, true); err != nil {
		return err
	}
	if body.SessionID == "" {
		body.SessionID = r.Header.Get("X-Session-Id")
	}
	sess, resumed, err := s.opt.Sessions.Start(s.opt.MachineCode, body.SessionID)
	if err != nil {
		return err
	}
	if err := s.limits.allowCall(sess.SessionID); err != nil {
		return err
	}
	if len(body.CurrentDesign) > 0 && string(body.CurrentDesign) != "null" {
		sess, err = s.opt.Sessions.Update(sess.SessionID, func(ss *session.Session) error {
			ss.CurrentDesign = body.CurrentDesign
			return nil
		})
		if errors.Is(err, session.ErrTooLarge) {
			return newError(http.StatusRequestEntityTooLarge, "too_large", "The saved design is too large.")
		}
		if err != nil {
			return err
		}
	}
	status := http.StatusCreated
	if resumed {
		status = http.StatusOK
	}
	writeJSON(w, status, s.publicSession(sess, resumed))
	return nil
}

// getSession answers GET .../session/{id}: the session and its current
// order, without changing it.
func (s *Server) getSession(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.sessionOf(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.publicSession(sess, true))
	return nil
}

// publicSession names the session's latest order. It is read from the
// queue, where the order and its session are one record: the session's
// own pointer is written after the order commits and is lost if the agent
// stops in between.
func (s *Server) publicSession(sess session.Session, resumed bool) publicSession {
	p := publicSession{
		SessionID: sess.SessionID, MachineCode: sess.MachineCode, StartTime: sess.StartTime,
		CurrentDesign: sess.CurrentDesign, OrderStatus: session.StatusDesigning, Resumed: resumed,
	}
	orders, err := s.opt.Queue.BySession(sess.SessionID)
	if err != nil {
		s.log.Warn("orders of session", "session", sess.SessionID, "err", err)
	}
	if n := len(orders); n > 0 {
		p.OrderID, p.OrderStatus = orders[n-1].ID, sessionOrderStatus(orders[n-1].Status)
	}
	return p
}

// sessionOrderStatus maps an order's status to the session's orderStatus.
func sessionOrderStatus(st queue.Status) string {
	switch st {
	case queue.StatusQueued:
		return session.StatusProcessing
	case queue.StatusPrinting:
		return session.StatusPrinting
	case queue.StatusComplete:
		return session.StatusComplete
	}
	return session.StatusDesigning // failed or cancelled: the customer may design again
}

// sessionOf authenticates the request's session and spends a call token.
func (s *Server) sessionOf(r *http.Request, id string) (session.Session, error) {
	if id == "" {
		id = r.Header.Get("X-Session-Id")
	}
	if id == "" {
		id = r.URL.Query().Get("sessionId")
	}
	if id == "" {
		return session.Session{}, newError(http.StatusBadRequest, "session_required", "Start a session first (POST .../session) and send its sessionId.")
	}
	sess, err := s.opt.Sessions.Touch(id)
	switch {
	case errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrExpired):
		return session.Session{}, newError(http.StatusForbidden, "session_invalid", "This session has ended. Please scan the QR code again.")
	case err != nil:
		return session.Session{}, err
	}
	if sess.MachineCode != s.opt.MachineCode {
		return session.Session{}, newError(http.StatusForbidden, "session_invalid", "This session belongs to another machine.")
	}
	if err := s.limits.allowCall(sess.SessionID); err != nil {
		return session.Session{}, err
	}
	return sess, nil
}

// decodeJSON reads a JSON body of at most limit bytes into v, strictly.
// An empty body is allowed when emptyOK.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any, emptyOK bool) error {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var tooBig *http.MaxBytesError
	switch {
	case err == io.EOF && emptyOK:
		return nil
	case errors.As(err, &tooBig):
		return newError(http.StatusRequestEntityTooLarge, "too_large", "The request body is too large.")
	case err != nil:
		return newError(http.StatusBadRequest, "bad_json", "The request body is not valid JSON for this call: "+err.Error())
	}
	if dec.More() {
		return newError(http.StatusBadRequest, "bad_json", "The request body holds more than one JSON value.")
	}
	return nil
}
