package server

import (
	"net/http"
	"strings"

	"casefleet/shared/tunnel"
)

// routeUnmatched labels a request that matches no route pattern, as the
// agent's metrics do.
const routeUnmatched = "unmatched"

// connectRoute is the agents' tunnel endpoint's pattern.
const connectRoute = "GET " + tunnel.ConnectPath

// machineRoutes are the agent's customer API (agent/api) under
// /api/chitu/machine/{code}, so that the relay's latencies read like the
// agent's. Anything else under a machine goes to the catch-all pattern.
var machineRoutes = []string{
	"GET /status", "GET /products", "POST /session", "POST /print",
	"GET /queue/{order}", "DELETE /queue/{order}", "GET /events", "GET /files/{file}",
	"GET /push/key", "POST /push", "DELETE /push",
}

// routeLabels names the route pattern a request falls under, for the
// metrics. It is a ServeMux used only for its matching: the relay routes
// with classify, and the label never contains the request's path or
// machine code, so the number of series stays bounded.
type routeLabels struct {
	mux      *http.ServeMux
	patterns map[string]bool
}

func newRouteLabels() *routeLabels {
	l := &routeLabels{mux: http.NewServeMux(), patterns: map[string]bool{}}
	add := func(pattern string) {
		l.mux.Handle(pattern, matchedRoute)
		l.patterns[pattern] = true
	}
	for _, p := range []string{"GET /healthz", "GET /readyz", "GET " + metricsPath, connectRoute, "GET " + machinesPath, "GET " + editorPath, "GET " + appPrefix, "GET " + alivePath, "GET " + rolloutPath} {
		add(p)
	}
	for _, p := range []string{"GET /fleet/{$}", "GET " + fleetLoginPath, "POST " + fleetLoginPath, "POST " + fleetLogoutPath,
		"GET " + fleetEventsPath, "GET " + fleetCSVPath, "GET " + fleetScriptPath, "GET " + fleetStickerPath + "{file}"} {
		add(p) // the fleet owner's page
	}
	const machine = machineAPIPrefix + "{code}"
	for _, p := range machineRoutes {
		method, path, _ := strings.Cut(p, " ")
		add(method + " " + machine + path)
	}
	add(machine + "/")
	return l
}

// label is the pattern r matches, or routeUnmatched.
func (l *routeLabels) label(r *http.Request) string {
	h, pattern := l.mux.Handler(r)
	// A path the ServeMux would redirect (to add a slash, or to clean it)
	// comes back with a redirect handler: the relay serves no such path.
	if h != http.Handler(matchedRoute) || !l.patterns[pattern] {
		return routeUnmatched
	}
	return pattern
}

// matchedRoute is the handler of every pattern: label tells a match from
// the ServeMux's own redirects and refusals by it. It is never called.
var matchedRoute = &nopHandler{}

type nopHandler struct{}

func (*nopHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}
