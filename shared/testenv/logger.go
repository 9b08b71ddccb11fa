package testenv

import (
	"log/slog"
	"os"
	"strings"
	"testing"
)

// Logger returns a logger for a component under test: it writes through
// t.Log when CASEFLEET_TEST_LOG is set, and discards otherwise, so tests
// stay quiet by default.
func Logger(t testing.TB, component string) *slog.Logger {
	if os.Getenv("CASEFLEET_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", component)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
