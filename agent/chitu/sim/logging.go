package sim

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// quietHandler drops log records once the sim has closed. The broker's
// client goroutines and pending MQTT publications may still be winding
// down then, and whoever provided the logger (a test, say) may be gone.
type quietHandler struct {
	slog.Handler
	closed *atomic.Bool
}

func (h quietHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return !h.closed.Load() && h.Handler.Enabled(ctx, level)
}

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.closed.Load() {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(attrs), h.closed}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name), h.closed}
}
