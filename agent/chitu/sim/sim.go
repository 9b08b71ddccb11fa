// Package sim is chitusim: a stand-in for the Chitu vendor cloud and its
// printers. It serves the signed open API over HTTP and publishes the
// machines' MQTT events (through an embedded broker or an external one), so
// the agent's real device link can be run and tested against it exactly as
// against the real platform (shared/docs/chitu-protocol.md).
//
// Each simulated machine behaves like a printer: it takes one order at a
// time, fetches the order's print file by URL and checks it against the
// product's print template, waits for payment, prints and reports every
// step. An admin API under /admin/ lets scripts and tests take machines
// offline, set ink levels, pay or fail orders, inject faults and read back
// everything the "machines" received (see README.md).
package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"casefleet/shared/machine"
)

// Topic sources: which machine id is hashed into the event topic.
const (
	TopicSourceMachineID = "machineId"
	TopicSourceDeviceID  = "device_id"
)

// Config configures a Sim.
type Config struct {
	// Machines are the codes of the simulated machines, e.g. CT0700026.
	// A code starting with "SJK" is a CT-sjk360 (the model with a stock
	// grid); every other machine is a CT-360.
	Machines []string
	// AppID and AppSecret are the open-API credentials the sim accepts.
	AppID, AppSecret string
	// MQTTPassword is the broker password (the username is AppID).
	MQTTPassword string
	// PrintTime is how long a print takes.
	PrintTime time.Duration
	// PayDelay is how long after a machine has the print file the customer
	// pays: 0 pays at once, a negative value waits for the admin API.
	PayDelay time.Duration
	// FetchDelay is how long after taking an order the machine starts
	// fetching its print file (0: at once). A real machine fetches some
	// time after the order, so the agent may be down by then.
	FetchDelay time.Duration
	// TopicSource is TopicSourceMachineID (default) or TopicSourceDeviceID.
	TopicSource string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// HTTPClient fetches print files; it defaults to a client with a
	// 30-second timeout.
	HTTPClient *http.Client
}

// Sim is a simulated Chitu platform with its machines. Its methods are safe
// for concurrent use.
type Sim struct {
	log         *slog.Logger
	quiet       atomic.Bool // set once closed: log nothing more
	clock       clock
	appID       string
	appSecret   string
	mqttPass    string
	topicSource string
	fetcher     *http.Client
	assets      *assetCache

	// ctx ends when the sim closes; print-file fetches and fault delays
	// stop with it.
	ctx      context.Context
	cancel   context.CancelFunc
	fetching sync.WaitGroup

	mu          sync.Mutex
	closed      bool
	machines    []*simMachine // in the order of Config.Machines
	byCode      map[string]*simMachine
	byDevice    map[string]*simMachine
	byMachine   map[string]*simMachine
	orders      []*order
	byOrderID   map[string]*order
	orderSeq    int
	printTime   time.Duration
	payDelay    time.Duration
	fetchDelay  time.Duration
	faults      []*Fault
	faultSeq    int
	mqttClaimed bool
	out         publisher // nil until ServeMQTT or ConnectMQTT is set up
}

// New builds a Sim from cfg. It serves nothing until Handler is mounted
// and ServeMQTT or ConnectMQTT is called.
func New(cfg Config) (*Sim, error) {
	if len(cfg.Machines) == 0 {
		return nil, errors.New("sim: no machines")
	}
	if cfg.AppID == "" || cfg.AppSecret == "" {
		return nil, errors.New("sim: app id and app secret are required")
	}
	if cfg.MQTTPassword == "" {
		return nil, errors.New("sim: MQTT password is required")
	}
	if cfg.PrintTime < 0 {
		return nil, fmt.Errorf("sim: negative print time %v", cfg.PrintTime)
	}
	if cfg.FetchDelay < 0 {
		return nil, fmt.Errorf("sim: negative fetch delay %v", cfg.FetchDelay)
	}
	switch cfg.TopicSource {
	case "":
		cfg.TopicSource = TopicSourceMachineID
	case TopicSourceMachineID, TopicSourceDeviceID:
	default:
		return nil, fmt.Errorf("sim: topic source %q, want %q or %q", cfg.TopicSource, TopicSourceMachineID, TopicSourceDeviceID)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sim{
		clock:       realClock{},
		appID:       cfg.AppID,
		appSecret:   cfg.AppSecret,
		mqttPass:    cfg.MQTTPassword,
		topicSource: cfg.TopicSource,
		fetcher:     cfg.HTTPClient,
		assets:      newAssetCache(),
		ctx:         ctx,
		cancel:      cancel,
		byCode:      make(map[string]*simMachine),
		byDevice:    make(map[string]*simMachine),
		byMachine:   make(map[string]*simMachine),
		byOrderID:   make(map[string]*order),
		printTime:   cfg.PrintTime,
		payDelay:    cfg.PayDelay,
		fetchDelay:  cfg.FetchDelay,
	}
	s.log = slog.New(quietHandler{cfg.Logger.Handler(), &s.quiet})
	for _, code := range cfg.Machines {
		if err := machine.ValidateCode(code); err != nil {
			cancel()
			return nil, fmt.Errorf("sim: %w", err)
		}
		if s.byCode[code] != nil {
			cancel()
			return nil, fmt.Errorf("sim: machine %s listed twice", code)
		}
		m := newSimMachine(code, cfg.AppSecret)
		s.machines = append(s.machines, m)
		s.byCode[m.code] = m
		s.byDevice[m.deviceID] = m
		s.byMachine[m.machineID] = m
	}
	return s, nil
}

// Close stops the sim: it abandons print-file fetches and fault delays,
// stops the order timers and closes the MQTT broker or connection. Orders
// in progress stay as they are. Close is idempotent.
func (s *Sim) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cancel()
	for _, o := range s.orders {
		o.stopTimer()
	}
	out := s.out
	s.out = nil
	s.mu.Unlock()

	s.fetching.Wait()
	var err error
	if out != nil {
		if err = out.close(); err != nil {
			err = fmt.Errorf("close MQTT: %w", err)
		}
	}
	s.quiet.Store(true)
	return err
}

// Handler serves the open API (/api/openApi/{name}), the catalogue images
// (/assets/) and the admin API (/admin/).
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/openApi/{name}", s.serveOpenAPI)
	mux.HandleFunc("GET /assets/{kind}/{file}", s.serveAsset)
	s.routeAdmin(mux)
	return mux
}
