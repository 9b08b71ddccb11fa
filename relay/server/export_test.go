package server

import (
	"net/http"

	"casefleet/relay/route"
)

// TunnelOf is the live tunnel the relay holds for code, or nil.
func (s *Server) TunnelOf(code string) *route.Tunnel { return s.table.Get(code) }

// AnswerFailedTrip answers r, a request for machine code's API, as the
// relay does when the trip through tried failed with err.
func (s *Server) AnswerFailedTrip(w http.ResponseWriter, r *http.Request, code string, tried *route.Tunnel, err error) {
	t := &target{match: match{kind: routeMachineAPI, code: code}, origin: originOf(r, s.trusted), tunnel: tried}
	s.proxyError(w, withTarget(r, t), err)
}
