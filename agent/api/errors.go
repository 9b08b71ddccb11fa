package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// apiError is an error the customer is shown.
type apiError struct {
	status     int
	code       string
	message    string
	retryAfter time.Duration
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func newError(status int, code, message string) *apiError {
	return &apiError{status: status, code: code, message: message}
}

func (e *apiError) after(d time.Duration) *apiError {
	e.retryAfter = d
	return e
}

// Error codes the API answers with.
var (
	errNotFound = newError(http.StatusNotFound, "not_found", "There is nothing at this address.")
)

func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	e, ok := err.(*apiError)
	if !ok {
		log.Error("request failed", "err", err)
		e = newError(http.StatusInternalServerError, "internal", "Something went wrong on our side. Please try again.")
	}
	if e.retryAfter > 0 {
		secs := int((e.retryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	writeJSON(w, e.status, map[string]any{"error": map[string]string{"code": e.code, "message": e.message}})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
