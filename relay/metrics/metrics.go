// Package metrics is the relay's Prometheus metrics, served at /metrics:
// the tunnels (how many are up, each machine's, connects, disconnects and
// refusals by reason), customers' requests by route pattern and status
// with their latency, open WebSocket streams, requests passed between
// relays, Redis directory errors and rate-limited requests.
//
// Everything is on a registry of its own (never the global one), and every
// label has a small fixed set of values: route patterns and reason codes,
// never raw paths. Machine codes appear only in machine_up, one series per
// machine of the fleet.
package metrics

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casefleet/shared/instrument"
)

// namespace prefixes every metric of the relay.
const namespace = "casefleet_relay"

// Machine is one machine that had a tunnel on this relay since it started.
type Machine struct {
	Code     string
	Location string
	Up       bool // its tunnel is on this relay and up now
}

// Options wire the metrics to the relay.
type Options struct {
	Instance string // the relay's instance id
	Version  string
	// Machines is read at every scrape, so the tunnel gauges are never
	// stale. Nil reports no tunnels.
	Machines func() []Machine
	// Rollout, if set, is read at every scrape: false while no rollout
	// is in force.
	Rollout func() (Rollout, bool)
	Logger  *slog.Logger
}

// Metrics is the relay's registry and the metrics it updates itself. Its
// methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	connects    prometheus.Counter
	disconnects *prometheus.CounterVec
	refusals    *prometheus.CounterVec
	requests    *prometheus.HistogramVec
	streams     prometheus.Gauge
	peers       *prometheus.CounterVec
	dirErrors   *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
}

// New builds the registry.
func New(opt Options) *Metrics {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: instrument.NewRegistry(),
		log: opt.Logger.With("component", "metrics"),
		connects: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "tunnel_connects_total",
			Help: "Agent tunnels admitted.",
		}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tunnel_disconnects_total",
			Help: "Agent tunnels that ended, by reason: dropped (the agent went away or stopped answering pings), replaced (the kiosk reconnected here), moved (it reconnected to another relay), revoked, shutdown.",
		}, []string{"reason"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tunnel_refusals_total",
			Help: "Agent tunnels refused, by the reason code the agent is told (token_expired, token_revoked, wrong_machine, ...).",
		}, []string{"reason"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Latency of HTTP requests, by route pattern and status code. A WebSocket is timed until it is switched (code 101), not for its life.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"route", "code"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "websockets_open",
			Help: "Customers' WebSocket streams (order events) open through this relay; agent tunnels are not counted.",
		}),
		peers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "peer_requests_total",
			Help: "Requests passed between relays: sent to the relay that holds the machine's tunnel, or received from one.",
		}, []string{"direction"}),
		dirErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "directory_errors_total",
			Help: "Failed Redis directory commands, by operation.",
		}, []string{"op"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "rate_limited_total",
			Help: "Requests refused with 429, by the limit they hit: requests per client IP or per customer session, WebSockets open per client IP or per session.",
		}, []string{"limit"}),
	}
	// Every label value is present from the start, so that a rate over
	// them works before the first event.
	for vec, values := range map[*prometheus.CounterVec][]string{
		m.disconnects: DisconnectReasons, m.refusals: RefusalReasons, m.peers: PeerDirections,
		m.dirErrors: DirectoryOps, m.rateLimited: Limits,
	} {
		for _, v := range values {
			vec.WithLabelValues(v)
		}
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "info",
		Help:        "The relay's instance id and version; always 1.",
		ConstLabels: prometheus.Labels{"instance_id": opt.Instance, "version": opt.Version},
	})
	info.Set(1)
	m.reg.MustRegister(
		info, m.connects, m.disconnects, m.refusals, m.requests, m.streams, m.peers, m.dirErrors, m.rateLimited,
		&tunnelCollector{machines: opt.Machines},
		&rolloutCollector{rollout: func() (Rollout, bool) {
			if opt.Rollout == nil {
				return Rollout{}, false
			}
			return opt.Rollout()
		}},
	)
	return m
}

// Registry is the relay's registry, for parts that add metrics of their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return instrument.Handler(m.reg, m.log) }

// TunnelConnected counts an admitted tunnel.
func (m *Metrics) TunnelConnected() { m.connects.Inc() }

// TunnelDisconnected counts a tunnel that ended, for one of
// DisconnectReasons.
func (m *Metrics) TunnelDisconnected(reason string) {
	m.disconnects.WithLabelValues(known(reason, DisconnectReasons)).Inc()
}

// TunnelRefused counts a refused tunnel, for one of RefusalReasons.
func (m *Metrics) TunnelRefused(reason string) {
	m.refusals.WithLabelValues(known(reason, RefusalReasons)).Inc()
}

// ObserveRequest records one request's latency. route must be a pattern
// (a fixed string such as "GET /api/chitu/machine/{code}/status"), never
// the request's path.
func (m *Metrics) ObserveRequest(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Observe(d.Seconds())
}

// StreamOpened counts a customer's WebSocket as open; call the returned
// function when it closes.
func (m *Metrics) StreamOpened() (closed func()) {
	m.streams.Inc()
	return m.streams.Dec
}

// PeerRequest counts a request passed between relays, in one of
// PeerDirections.
func (m *Metrics) PeerRequest(direction string) {
	m.peers.WithLabelValues(known(direction, PeerDirections)).Inc()
}

// DirectoryError counts a failed Redis directory command, one of
// DirectoryOps.
func (m *Metrics) DirectoryError(op string) {
	m.dirErrors.WithLabelValues(known(op, DirectoryOps)).Inc()
}

// RateLimited counts a request refused by one of Limits.
func (m *Metrics) RateLimited(limit string) {
	m.rateLimited.WithLabelValues(known(limit, Limits)).Inc()
}
