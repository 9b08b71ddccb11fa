// Package daemon assembles the kiosk agent from its parts (durable store,
// device link, dispatcher, customer API, LAN listener) and runs them
// together until the context is cancelled; if one part fails, all stop.
package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"

	"casefleet/agent/api"
	"casefleet/agent/catalog"
	"casefleet/agent/chitu"
	"casefleet/agent/config"
	"casefleet/agent/dashboard"
	"casefleet/agent/dispatch"
	"casefleet/agent/lan"
	"casefleet/agent/metrics"
	"casefleet/agent/printfile"
	"casefleet/agent/queue"
	"casefleet/agent/session"
	"casefleet/agent/update"
	"casefleet/shared/summary"
	"casefleet/shared/tunnel"
)

// DBFile is the bbolt file inside data_dir.
const DBFile = "casefleet.db"

// Options are what Run needs besides the configuration.
type Options struct {
	Version string
	Logger  *slog.Logger
	// Ready, when set, is called once the agent serves on its LAN address.
	Ready func(lanAddr string)
	// OnTunnel, when set, is called on every change of the relay tunnel.
	OnTunnel func(tunnel.State)
	// Web, when set, is the customer web app (GET /editor, /app/...).
	Web http.Handler
	// Push, when set, builds the Web Push part from the agent's store: its
	// handler (mounted at .../push) and a background loop run with the rest.
	Push func(p Parts) (http.Handler, func(context.Context) error, error)
	// UpdateFormatFile is the package-format file that tells the agent it
	// was installed from a package (and so may update itself); default
	// update.DefaultFormatFile(). For tests.
	UpdateFormatFile string
	// HealthDeadline bounds the health checks after a start (health.json);
	// default update.DefaultHealthDeadline.
	HealthDeadline time.Duration
}

// Parts are the agent's stores, handed to optional parts.
type Parts struct {
	DB       *bbolt.DB
	Queue    *queue.Queue
	Sessions *session.Store
	Config   config.Config
	Logger   *slog.Logger
}

// Run runs the agent until ctx is done.
func Run(ctx context.Context, cfg config.Config, opt Options) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}

	db, err := OpenDB(cfg.DataDir)
	if err != nil {
		return err
	}
	defer db.Close()

	q, err := queue.Open(db, queue.Options{MaxOrders: cfg.Queue.MaxOrders, DefaultPrintDuration: cfg.Queue.DefaultPrintDuration})
	if err != nil {
		return err
	}
	sessions, err := session.Open(db, session.Options{IdleTimeout: cfg.Session.IdleTimeout})
	if err != nil {
		return err
	}
	files, err := api.NewFileStore(filepath.Join(cfg.DataDir, "printfiles"))
	if err != nil {
		return err
	}

	link, err := chitu.Dial(ctx, ChituConfig(cfg, log))
	if err != nil {
		return fmt.Errorf("device link: %w", err)
	}
	defer link.Close()

	lis, err := net.Listen("tcp", cfg.LAN.Listen)
	if err != nil {
		return fmt.Errorf("lan.listen %s: %w", cfg.LAN.Listen, err)
	}
	lanAddr := lis.Addr().String()

	var public atomic.Pointer[string] // the public base URL for print files
	if cfg.PublicURL != "" {
		public.Store(&cfg.PublicURL)
	} else if base, ok := lanBaseURL(lanAddr); ok {
		public.Store(&base)
	}
	fileURL := func(name string) (string, error) {
		base := public.Load()
		if base == nil {
			return "", errors.New("no public URL known yet: set public_url or connect to the relay")
		}
		return *base + "/api/chitu/machine/" + url.PathEscape(cfg.Machine.Code) + "/files/" + url.PathEscape(name), nil
	}

	disp := dispatch.New(link, q, dispatch.Options{
		MachineCode:     cfg.Machine.Code,
		Name:            cfg.Machine.Name,
		Location:        cfg.Machine.Location,
		PaymentTimeout:  cfg.Queue.PaymentTimeout,
		InflightTimeout: cfg.Queue.InflightTimeout,
		ResendGrace:     cfg.Queue.ResendGrace,
		RetryDelay:      cfg.Queue.RetryDelay,
		RefusalTimeout:  cfg.Queue.RefusalTimeout,
		PollInterval:    cfg.Chitu.PollInterval,
		CallTimeout:     cfg.Chitu.Timeout + 5*time.Second,
		MaxAttempts:     cfg.Queue.MaxAttempts,
		FileURL:         fileURL,
		Logger:          log,
	})
	var pushHandler http.Handler
	var pushRun func(context.Context) error
	if opt.Push != nil {
		pushHandler, pushRun, err = opt.Push(Parts{DB: db, Queue: q, Sessions: sessions, Config: cfg, Logger: log})
		if err != nil {
			return fmt.Errorf("web push: %w", err)
		}
	}
	srv := api.New(api.Options{
		MachineCode:       cfg.Machine.Code,
		MaxOrders:         cfg.Queue.MaxOrders,
		Currency:          cfg.Machine.Currency,
		Queue:             q,
		Sessions:          sessions,
		Machine:           disp,
		Catalog:           catalog.New(link, nil, 5*time.Minute, log.With("machine", cfg.Machine.Code)),
		Files:             files,
		ImageLimits:       printfile.Limits{MaxBytes: cfg.Image.MaxBytes, MaxPixels: cfg.Image.MaxPixels},
		AllowedHosts:      cfg.Image.AllowedHosts,
		PrintFormat:       printfile.Format(cfg.Chitu.PrintFormat),
		Rotate90:          cfg.Chitu.Rotate90,
		RequestsPerMinute: cfg.Session.RequestsPerMin,
		OrdersPerHour:     cfg.Session.OrdersPerHour,
		Web:               opt.Web,
		Push:              pushHandler,
		Logger:            log,
	})
	// The agent's own updates (docs/updates.md): asked of the relay over
	// the tunnel, handed to the root installer when the line is empty.
	var tunnelUp atomic.Bool
	var dash *dashboard.Dashboard
	relayClient := tunnel.NewRelayClient()
	healthDeadline := cmp.Or(opt.HealthDeadline, cfg.Update.HealthDeadline, update.DefaultHealthDeadline)
	upd, err := update.New(update.Options{
		Version:        opt.Version,
		Dir:            filepath.Join(cfg.DataDir, "update"),
		Enabled:        cfg.Update.Enabled,
		ReleasePub:     cfg.Update.ReleasePub,
		FormatFile:     cmp.Or(opt.UpdateFormatFile, cfg.Update.FormatFile),
		Window:         cfg.Update.Window,
		Relay:          relayClient,
		Idle:           lineIdle(disp),
		Changes:        q.Subscribe,
		Health:         healthChecks(cfg, q, disp, &tunnelUp),
		HealthDeadline: healthDeadline,
		// The installer waits for the new version's health longer than
		// its checks may take, for the start itself: up to a minute more.
		DeadlineSeconds: int((healthDeadline + min(healthDeadline, time.Minute)) / time.Second),
		Interval:        cfg.Update.CheckInterval,
		Logger:          log.With("machine", cfg.Machine.Code),
		OnChange:        func() { dash.UpdateChanged() },
	})
	if err != nil {
		return fmt.Errorf("agent updates: %w", err)
	}
	dash, err = dashboard.New(dashboard.Options{
		PIN:         cfg.LAN.OperatorPIN,
		MachineCode: cfg.Machine.Code,
		Name:        cfg.Machine.Name,
		Location:    cfg.Machine.Location,
		Version:     opt.Version,
		RelayURL:    cfg.Relay.URL,
		PublicURL:   cfg.PublicURL,
		Queue:       q,
		Machine:     disp,
		Printer:     link,
		Updates:     upd,
		CallTimeout: cfg.Chitu.Timeout + 5*time.Second,
		Logger:      log,
	})
	if err != nil {
		return fmt.Errorf("operator dashboard: %w", err)
	}
	if !dash.Enabled() {
		log.Warn("operator dashboard is off: set lan.operator_pin to switch it on")
	}
	met := metrics.New(metrics.Options{
		MachineCode: cfg.Machine.Code,
		Version:     opt.Version,
		Queue:       q,
		Machine:     disp,
		Tunnel:      cfg.Relay.URL != "",
		Logger:      log,
	})
	customer := srv.Handler()
	// Through the tunnel, the relay itself may also ask for the kiosk's
	// summary (its fleet page). No phone can: the relay forwards only the
	// customer's paths (the editor, /app/, /api/chitu/machine/CODE/...),
	// and the LAN listener does not serve it.
	tunnelMux := http.NewServeMux()
	tunnelMux.Handle(summary.Path, srv.SummaryHandler(opt.Version))
	tunnelMux.Handle(update.CheckPath, upd.CheckHandler()) // the relay: the rollout changed
	tunnelMux.Handle("/", customer)
	lanMux := http.NewServeMux()
	lanMux.Handle("/operator/", dash.Handler()) // LAN only, never through the tunnel
	lanMux.Handle("GET /metrics", met.Handler())
	lanMux.Handle("/", customer)
	// Bodies must keep coming at a phone's pace (lan.DefaultBodyRate), on
	// the LAN as through the tunnel; a global ReadTimeout would cut slow
	// photo uploads and the long-lived streams alike.
	bodyRate := lan.DefaultBodyRate()
	httpSrv := &http.Server{
		Handler:           bodyRate.Handler(met.Instrument(lanMux), log),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		// The LAN keeps working without mDNS: a failure here is logged,
		// not fatal (a loopback without multicast, say).
		_, port, _ := net.SplitHostPort(lanAddr)
		portNum, _ := strconv.Atoi(port)
		info := func() lan.Info {
			i := lan.Info{Code: cfg.Machine.Code, Name: cfg.Machine.Name, Location: cfg.Machine.Location, Version: opt.Version, TunnelUp: tunnelUp.Load()}
			if st, err := disp.Status(); err == nil {
				i.Printer, i.QueueLength = st.Status, st.QueueLength
			}
			return i
		}
		if err := lan.Advertise(gctx, cfg.Machine.Code, portNum, cfg.LAN.Interfaces, info, 5*time.Second, log); err != nil {
			log.Warn("not advertising on the LAN", "err", err)
		}
		return nil
	})
	if cfg.Relay.URL != "" {
		g.Go(func() error {
			return tunnel.RunAgent(gctx, tunnel.AgentConfig{
				RelayURL:    cfg.Relay.URL,
				MachineCode: cfg.Machine.Code,
				Token:       cfg.Relay.Token,
				Version:     opt.Version,
				Handler:     bodyRate.Handler(met.Instrument(tunnelMux), log), // the customer API and the relay's summary
				RelayClient: relayClient,                                      // the agent's own requests: updates
				Logger:      log.With("machine", cfg.Machine.Code, "component", "tunnel"),
				OnState: func(st tunnel.State) {
					tunnelUp.Store(st.Connected)
					if st.Connected {
						upd.Connected() // asks the relay which version to run
					}
					dash.SetTunnel(st)
					met.SetTunnel(st)
					// The relay's announced URL is where the machine fetches
					// print files, unless public_url says otherwise.
					if st.Connected && st.PublicURL != "" && cfg.PublicURL == "" {
						base := strings.TrimRight(st.PublicURL, "/")
						public.Store(&base)
					}
					if opt.OnTunnel != nil {
						opt.OnTunnel(st)
					}
				},
			})
		})
	}
	g.Go(func() error { return disp.Run(gctx) })
	g.Go(func() error { return upd.Run(gctx) })
	if keep := cfg.Queue.KeepFinished; keep > 0 {
		g.Go(func() error { return pruneFinished(gctx, q, keep, log) })
	}
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error { return dash.Run(gctx) })
	g.Go(func() error { return met.Run(gctx) })
	if pushRun != nil {
		g.Go(func() error { return pushRun(gctx) })
	}
	g.Go(func() error {
		if err := httpSrv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("LAN server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return httpSrv.Shutdown(sctx)
	})
	log.Info("agent ready", "machine", cfg.Machine.Code, "lan", lanAddr, "version", opt.Version, "data_dir", cfg.DataDir)
	if opt.Ready != nil {
		opt.Ready(lanAddr)
	}
	return g.Wait()
}

// lineIdle tells the updater whether it may hand over: no order at the
// printer and none in line.
func lineIdle(disp *dispatch.Dispatcher) func() (bool, string, error) {
	return func() (bool, string, error) {
		st, err := disp.Status()
		switch {
		case err != nil:
			return false, "", err
		case st.CurrentOrder != "":
			return false, "an order is at the printer", nil
		case st.QueueLength > 0:
			return false, fmt.Sprintf("%d order(s) in line", st.QueueLength), nil
		case st.Status == dispatch.StatePrinting:
			return false, "the printer is busy", nil
		}
		return true, "", nil
	}
}

// healthChecks are what a newly started agent must find working within
// the deadline (docs/updates.md, step 4): the queue opened and
// consistent, the data directory writable, the printer link up, and the
// tunnel connected when a relay is set. doctor's other checks (the
// configuration, the store) have passed by the time Run gets here.
func healthChecks(cfg config.Config, q *queue.Queue, disp *dispatch.Dispatcher, tunnelUp *atomic.Bool) []update.HealthCheck {
	checks := []update.HealthCheck{
		{Name: "queue", Check: func(context.Context) error { return q.Verify() }},
		{Name: "data dir", Check: func(context.Context) error {
			probe := filepath.Join(cfg.DataDir, "update", ".health-probe")
			if err := os.WriteFile(probe, []byte("ok"), 0o600); err != nil {
				return err
			}
			return os.Remove(probe)
		}},
		{Name: "printer link", Check: func(context.Context) error {
			st, err := disp.Status()
			if err != nil {
				return err
			}
			if !st.MQTTConnected {
				return errors.New("the printer's MQTT link is not connected")
			}
			return nil
		}},
	}
	if cfg.Relay.URL != "" {
		checks = append(checks, update.HealthCheck{Name: "tunnel", Check: func(context.Context) error {
			if !tunnelUp.Load() {
				return errors.New("not connected to the relay")
			}
			return nil
		}})
	}
	return checks
}

// pruneInterval is how often finished orders older than
// queue.keep_finished are deleted; pruneBatch how many go per transaction,
// so a first prune of a large store does not hold the writer for long.
const (
	pruneInterval = time.Hour
	pruneBatch    = 500
)

// pruneFinished deletes finished orders older than keep, at start and then
// every pruneInterval, until ctx is done. A failure is logged and retried
// at the next round: it never stops the agent.
func pruneFinished(ctx context.Context, q *queue.Queue, keep time.Duration, log *slog.Logger) error {
	tick := time.NewTicker(pruneInterval)
	defer tick.Stop()
	for {
		total := 0
		for {
			n, err := q.PruneFinished(time.Now().Add(-keep), pruneBatch)
			total += n
			if err != nil {
				log.Error("prune finished orders", "err", err)
				break
			}
			if n < pruneBatch || ctx.Err() != nil {
				break
			}
		}
		if total > 0 {
			log.Info("deleted finished orders past queue.keep_finished", "count", total, "keep", keep)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// OpenDB opens (creating) the agent's bbolt file in dataDir.
func OpenDB(dataDir string) (*bbolt.DB, error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data_dir %s: %w", dataDir, err)
	}
	path := filepath.Join(dataDir, DBFile)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("open %s: another agent is using it", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// ChituConfig maps the agent's settings to the device link's.
func ChituConfig(cfg config.Config, log *slog.Logger) chitu.Config {
	return chitu.Config{
		BaseURL:      cfg.Chitu.BaseURL,
		AppID:        cfg.Chitu.AppID,
		AppSecret:    cfg.Chitu.AppSecret,
		MachineCode:  cfg.Machine.Code,
		PayType:      cfg.Chitu.PayType,
		MQTTURL:      cfg.Chitu.MQTTURL,
		MQTTUsername: cfg.Chitu.MQTTUsername,
		MQTTPassword: cfg.Chitu.MQTTPassword,
		TopicSource:  cfg.Chitu.TopicSource,
		CleanSession: cfg.Chitu.CleanSession,
		Encoding:     cfg.Chitu.Encoding,
		HTTPTimeout:  cfg.Chitu.Timeout,
		Logger:       log,
	}
}

// lanBaseURL is the URL of the LAN listener when it names a usable host
// (not the unspecified address).
func lanBaseURL(addr string) (string, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		return "", false
	}
	return "http://" + net.JoinHostPort(host, port), true
}
