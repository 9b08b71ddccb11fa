package server

import (
	"net/http"
	"strings"

	"casefleet/shared/machine"
	"casefleet/shared/tunnel"
)

// routeKind is what the relay does with a request.
type routeKind int

const (
	routeNotFound   routeKind = iota
	routeHealth               // GET /healthz
	routeReady                // GET /readyz
	routeMetrics              // GET /metrics: Prometheus, with metrics_token if set
	routeConnect              // the agents' tunnel endpoint
	routeMachines             // GET /api/machines
	routeEditor               // GET /editor?machine=CODE: to CODE's agent
	routeApp                  // GET /app/...: the web app's assets, to an agent
	routeMachineAPI           // /api/chitu/machine/CODE/...: to CODE's agent
	routePeerAlive            // GET /relay/v1/alive?machine=CODE: from a peer relay
	routeFleet                // /fleet/...: the fleet owner's page, never forwarded
	routeRollout              // GET /relay/v1/rollout: the rollout's state, for the fleet owner
)

// Paths the relay serves or forwards; nothing else reaches an agent.
const (
	machineAPIPrefix = "/api/chitu/machine/"
	appPrefix        = "/app/"
	editorPath       = "/editor"
	machinesPath     = "/api/machines"
	metricsPath      = "/metrics"
)

// appCookie remembers, for the web app's assets, which machine's editor
// the browser opened last (see docs/relay.md).
const appCookie = "casefleet_machine"

// match is a classified request.
type match struct {
	kind routeKind
	code string // the machine, for routeEditor and routeMachineAPI; may be empty for routeApp
}

// classify decides what r is, or returns the failure to answer it with.
// It is the relay's guard against being an open proxy: only origin-form
// requests for the paths above, with clean paths and valid machine codes,
// go anywhere.
func classify(r *http.Request) (match, *failure) {
	if r.Method == http.MethodConnect {
		return match{}, &failure{status: http.StatusMethodNotAllowed, code: "method_not_allowed"}
	}
	if !strings.HasPrefix(r.RequestURI, "/") {
		return match{}, &failure{status: http.StatusBadRequest, code: "bad_request"}
	}
	if r.URL.RawPath != "" || !cleanPath(r.URL.Path) {
		return match{}, &failure{status: http.StatusBadRequest, code: "bad_path"}
	}
	p := r.URL.Path
	readOnly := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case p == tunnel.ConnectPath:
		return match{kind: routeConnect}, nil
	case p == "/healthz" && readOnly:
		return match{kind: routeHealth}, nil
	case p == "/readyz" && readOnly:
		return match{kind: routeReady}, nil
	case p == metricsPath && readOnly:
		return match{kind: routeMetrics}, nil
	case p == machinesPath && readOnly:
		return match{kind: routeMachines}, nil
	case p == alivePath && readOnly:
		return match{kind: routePeerAlive}, nil
	case p == rolloutPath && readOnly:
		return match{kind: routeRollout}, nil
	case p == "/fleet" || strings.HasPrefix(p, fleetPrefix):
		return match{kind: routeFleet}, nil
	case p == editorPath && readOnly:
		code := r.URL.Query().Get("machine")
		if code == "" {
			return match{}, &failure{status: http.StatusBadRequest, code: "missing_machine"}
		}
		if machine.ValidateCode(code) != nil {
			return match{}, invalidCode()
		}
		return match{kind: routeEditor, code: code}, nil
	case strings.HasPrefix(p, appPrefix) && readOnly:
		return match{kind: routeApp, code: appMachine(r)}, nil
	case strings.HasPrefix(p, machineAPIPrefix):
		code, rest, _ := strings.Cut(p[len(machineAPIPrefix):], "/")
		if machine.ValidateCode(code) != nil {
			return match{}, invalidCode()
		}
		if rest == "" {
			return match{}, notFound()
		}
		if r.Method == http.MethodTrace {
			return match{}, &failure{status: http.StatusMethodNotAllowed, code: "method_not_allowed"}
		}
		return match{kind: routeMachineAPI, code: code}, nil
	}
	return match{}, notFound()
}

// appMachine is the machine whose agent should serve a web-app asset: the
// machine query parameter, else the cookie set with the editor page;
// empty means any online agent will do.
func appMachine(r *http.Request) string {
	if code := r.URL.Query().Get("machine"); machine.ValidateCode(code) == nil {
		return code
	}
	if c, err := r.Cookie(appCookie); err == nil && machine.ValidateCode(c.Value) == nil {
		return c.Value
	}
	return ""
}

// cleanPath reports whether p is absolute and free of empty, "." and
// ".." segments (a trailing slash is fine).
func cleanPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return false
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		if s == "." || s == ".." || (s == "" && i != len(segs)-1) {
			return false
		}
	}
	return true
}

func notFound() *failure {
	return &failure{status: http.StatusNotFound, code: "not_found"}
}

func invalidCode() *failure {
	return &failure{status: http.StatusBadRequest, code: "invalid_machine_code"}
}
