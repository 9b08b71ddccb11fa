// Package metrics exports the agent's Prometheus metrics at /metrics on
// the LAN listener: the queue (length, orders by stage, whether it is
// full, finished orders, failures by reason, print durations), the
// printer, the MQTT link and the relay tunnel, and request latency by
// route.
//
// Everything is on a registry of its own (never the global one). The queue
// and the machine are read when Prometheus scrapes; finished orders are
// counted by following the queue's event log (Run); the tunnel is fed by
// the daemon's tunnel hook (SetTunnel); requests by wrapping the LAN
// handler (Instrument).
package metrics

import (
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"casefleet/agent/dispatch"
	"casefleet/agent/queue"
	"casefleet/shared/instrument"
)

// namespace prefixes every metric of the agent.
const namespace = "casefleet_agent"

// Queue is what the metrics read of the agent's queue (*queue.Queue).
type Queue interface {
	Pending() ([]queue.Order, error)
	Summary() (queue.Summary, error)
	Subscribe() (<-chan struct{}, func())
	EventsAfter(after uint64, limit int) ([]queue.Event, error)
	LastEventID() (uint64, error)
}

// Machine is what the metrics read of the dispatcher (*dispatch.Dispatcher).
type Machine interface {
	Status() (dispatch.Status, error)
}

// Options wire the metrics to the agent's parts.
type Options struct {
	MachineCode string
	Version     string
	Queue       Queue
	Machine     Machine
	// Tunnel is set when the agent keeps a relay tunnel (relay.url is set);
	// only then are the tunnel metrics exported, so a LAN-only kiosk does
	// not report a tunnel that is "down".
	Tunnel bool
	Logger *slog.Logger
}

// Metrics is the agent's registry and the metrics it updates itself.
type Metrics struct {
	opt Options
	log *slog.Logger
	reg *prometheus.Registry

	finished      *prometheus.CounterVec
	failures      *prometheus.CounterVec
	printDuration prometheus.Histogram
	requests      *prometheus.HistogramVec

	tunnelUp         prometheus.Gauge
	tunnelReconnects prometheus.Counter

	// cursor is the end of the event log when New ran: Run counts what
	// comes after it.
	cursor   uint64
	cursorOK bool

	mu          sync.Mutex
	tunnelState tunnelState
}

// New builds the registry and notes where the queue's event log ends:
// orders that finish from then on are counted (by Run). Call SetTunnel on
// every tunnel change, and serve Handler at GET /metrics.
func New(opt Options) *Metrics {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		opt: opt,
		log: opt.Logger.With("machine", opt.MachineCode, "component", "metrics"),
		reg: instrument.NewRegistry(),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "orders_finished_total",
			Help: "Orders that finished since the agent started, by outcome (complete, failed, cancelled).",
		}, []string{"status"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "order_failures_total",
			Help: "Orders that failed since the agent started, by reason code.",
		}, []string{"reason"}),
		printDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "print_duration_seconds",
			Help:    "How long the printer took from starting a print to reporting it complete.",
			Buckets: []float64{60, 120, 180, 240, 300, 420, 600, 900, 1200, 1800},
		}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Latency of HTTP requests on the LAN listener and the tunnel, by route pattern and status code. Streams (WebSocket, server-sent events) are not included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "code"}),
		tunnelUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "tunnel_up",
			Help: "1 while the tunnel to the relay is connected.",
		}),
		tunnelReconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "tunnel_reconnects_total",
			Help: "Times the tunnel to the relay came back up after it had been connected.",
		}),
	}
	// Every status and reason is present from the start, so a rate over
	// them works before the first failure.
	for _, s := range []queue.Status{queue.StatusComplete, queue.StatusFailed, queue.StatusCancelled} {
		m.finished.WithLabelValues(string(s))
	}
	for _, r := range Reasons {
		m.failures.WithLabelValues(r)
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "info",
		Help:        "The agent's machine code and version; always 1.",
		ConstLabels: prometheus.Labels{"machine": opt.MachineCode, "version": opt.Version},
	})
	info.Set(1)
	m.reg.MustRegister(
		info, m.finished, m.failures, m.printDuration, m.requests,
		&stateCollector{m: m},
	)
	if opt.Tunnel {
		m.reg.MustRegister(m.tunnelUp, m.tunnelReconnects)
	}
	if opt.Queue != nil {
		m.cursor, m.cursorOK = m.startCursor()
	}
	return m
}

// Registry is the agent's registry, for parts that add metrics of their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format. A part that
// cannot be read (the store, say) is reported in the log and left out; the
// rest is still served.
func (m *Metrics) Handler() http.Handler { return instrument.Handler(m.reg, m.log) }
