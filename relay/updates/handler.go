package updates

import (
	"casefleet/shared/release"
	"encoding/json"
	"net/http"
	"strings"

	"casefleet/shared/tunnel"
)

// Paths of the update API, served on the agents' own tunnel streams.
const (
	UpdatePath   = "/relay/v1/update"
	ReportPath   = "/relay/v1/update/report"
	ReleasesPath = "/relay/v1/releases/"
)

// maxReport bounds a report's body.
const maxReport = 4 << 10

// Handler serves the update API. The agent is known by its tunnel
// (tunnel.ConnFromContext); a request without one is refused.
func (u *Updates) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+UpdatePath, u.serveUpdate)
	mux.HandleFunc("POST "+ReportPath, u.serveReport)
	mux.HandleFunc("GET "+ReleasesPath+"{version}/{file}", u.serveRelease)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tunnel.ConnFromContext(r.Context()) == nil {
			writeError(w, http.StatusForbidden, "not_an_agent", "the update API is served on agents' tunnels only")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (u *Updates) serveUpdate(w http.ResponseWriter, r *http.Request) {
	c := tunnel.ConnFromContext(r.Context())
	current := r.URL.Query().Get("version")
	if current == "" {
		current = c.Version()
	}
	platform := r.URL.Query().Get("platform")
	if len(current) > 64 || len(platform) > 64 {
		writeError(w, http.StatusBadRequest, "bad_request", "version and platform are at most 64 bytes")
		return
	}
	d := u.Decide(r.Context(), c.Machine(), c.Claims().Location, current, platform)
	if d.Target != "" {
		u.log.Info("machine offered an update", "machine", c.Machine(), "from", current, "to", d.Target, "downgrade", d.Downgrade)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(d)
}

// Report is what an agent says of its update.
type Report struct {
	Version string `json:"version"`
	From    string `json:"from"`
	State   string `json:"state"`
	Reason  string `json:"reason"`
}

func (u *Updates) serveReport(w http.ResponseWriter, r *http.Request) {
	c := tunnel.ConnFromContext(r.Context())
	var rep Report
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxReport))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		writeError(w, http.StatusBadRequest, "bad_report", "a report is JSON {version, from, state, reason}: "+err.Error())
		return
	}
	if !release.IsVersion(rep.Version) || len(rep.Version) > 64 || len(rep.From) > 64 {
		writeError(w, http.StatusBadRequest, "bad_report", "version is not a version")
		return
	}
	if !knownState(rep.State) {
		writeError(w, http.StatusBadRequest, "bad_report", "state must be one of "+strings.Join(States(), ", "))
		return
	}
	if err := u.reports.record(r.Context(), rep.Version, c.Machine(), rep.State); err != nil {
		u.log.Warn("update report not recorded", "machine", c.Machine(), "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the report could not be recorded; send it again")
		return
	}
	log := u.log.Info
	if failing(rep.State) {
		log = u.log.Warn
	}
	log("update report", "machine", c.Machine(), "version", rep.Version, "from", rep.From, "state", rep.State, "reason", cleanReason(rep.Reason))
	w.WriteHeader(http.StatusNoContent)
}

func (u *Updates) serveRelease(w http.ResponseWriter, r *http.Request) {
	version, file := r.PathValue("version"), r.PathValue("file")
	f, err := u.releases.open(version, file)
	if err != nil {
		u.log.Debug("release file not served", "version", version, "file", file, "err", err)
		writeError(w, http.StatusNotFound, "not_found", "no such release file")
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "release file unreadable")
		return
	}
	if file == manifestFile {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	// Range: a cut download resumes where it stopped.
	http.ServeContent(w, r, file, fi.ModTime(), f)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]map[string]string{"error": {"code": code, "message": msg}})
}

// cleanReason keeps a reported reason printable and short for the log.
func cleanReason(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
