package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"casefleet/agent/catalog"
	"casefleet/agent/dispatch"
	"casefleet/agent/ink"
	"casefleet/agent/printfile"
	"casefleet/agent/queue"
	"casefleet/agent/session"
	"casefleet/shared/machine"
)

// Machine is what the API needs of the dispatcher.
type Machine interface {
	Status() (dispatch.Status, error)
	Kick()
}

// Options wire the API to the agent's parts.
type Options struct {
	MachineCode string
	MaxOrders   int
	Currency    string // ISO 4217 code of the catalogue's prices, or ""

	Queue    *queue.Queue
	Sessions *session.Store
	Machine  Machine
	Catalog  *catalog.Catalog
	Files    *FileStore

	ImageLimits  printfile.Limits
	AllowedHosts []string     // hosts an image_url may name
	ImageClient  *http.Client // fetches image_url; default: 20 s timeout
	PrintFormat  printfile.Format
	Rotate90     bool

	RequestsPerMinute int // per session, every call
	OrdersPerHour     int // per session, POST print

	// Web serves the customer web app: GET /editor and its assets under
	// /app/. Nil serves neither.
	Web http.Handler
	// Push handles Web Push subscriptions at POST and DELETE
	// /api/chitu/machine/{code}/push (and GET .../push/key for the VAPID
	// public key). Nil answers 404.
	Push http.Handler

	Logger *slog.Logger
}

// Server serves the customer API for one machine.
type Server struct {
	opt     Options
	log     *slog.Logger
	limits  *limiter
	renders chan struct{} // bounds concurrent decode+render work

	mu        sync.Mutex
	preparing int // orders being rendered: they hold a place against the cap
	imageGet  *http.Client
}

// New returns the API server.
func New(opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.MaxOrders <= 0 {
		opt.MaxOrders = 20
	}
	if opt.RequestsPerMinute <= 0 {
		opt.RequestsPerMinute = 120
	}
	if opt.OrdersPerHour <= 0 {
		opt.OrdersPerHour = 10
	}
	if opt.PrintFormat == "" {
		opt.PrintFormat = printfile.TIFF
	}
	s := &Server{
		opt:    opt,
		log:    opt.Logger.With("machine", opt.MachineCode),
		limits: newLimiter(opt.RequestsPerMinute, opt.OrdersPerHour),
		// One photo at a time: decoding a large progressive JPEG can take
		// hundreds of MB, and Render already uses every core.
		renders: make(chan struct{}, 1),
	}
	s.imageGet = opt.ImageClient
	if s.imageGet == nil {
		s.imageGet = &http.Client{Timeout: 20 * time.Second}
	}
	s.imageGet.CheckRedirect = s.checkRedirect
	return s
}

// Handler routes the public API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	const m = "/api/chitu/machine/{code}"
	mux.HandleFunc("GET "+m+"/status", s.machineRoute(s.status))
	mux.HandleFunc("GET "+m+"/products", s.machineRoute(s.products))
	mux.HandleFunc("POST "+m+"/session", s.machineRoute(s.startSession))
	mux.HandleFunc("GET "+m+"/session/{id}", s.machineRoute(s.getSession))
	mux.HandleFunc("POST "+m+"/print", s.machineRoute(s.print))
	mux.HandleFunc("GET "+m+"/queue/{order}", s.machineRoute(s.getOrder))
	mux.HandleFunc("DELETE "+m+"/queue/{order}", s.machineRoute(s.cancelOrder))
	mux.HandleFunc("GET "+m+"/events", s.events)
	mux.HandleFunc("GET "+m+"/files/{file}", s.printFile)
	mux.HandleFunc("HEAD "+m+"/files/{file}", s.printFile)
	if s.opt.Web != nil {
		mux.Handle("GET /editor", s.opt.Web)
		mux.Handle("GET /app/", s.opt.Web)
	}
	if s.opt.Push != nil {
		mux.Handle(m+"/push", s.machineChecked(s.opt.Push))
		mux.Handle(m+"/push/", s.machineChecked(s.opt.Push))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeError(w, s.log, errNotFound) })
	return mux
}

// Run sweeps idle sessions and rate-limit state, and keeps each session's
// orderStatus in step with its order (so a session whose order finished
// can expire even if the phone never comes back), until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	changes, stop := s.opt.Queue.Subscribe()
	defer stop()
	cursor, err := s.opt.Queue.LastEventID()
	if err != nil {
		return err
	}
	if err := s.syncAllSessions(); err != nil {
		s.log.Warn("sync sessions with their orders", "err", err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changes:
			cursor = s.followOrders(cursor)
		case <-sweep.C:
			if n, err := s.opt.Sessions.Sweep(); err != nil {
				s.log.Warn("sweep sessions", "err", err)
			} else if n > 0 {
				s.log.Debug("swept idle sessions", "count", n)
			}
			s.limits.sweep(10 * time.Minute)
			s.sweepFiles()
		}
	}
}

// printFileRetention is how long a print file is kept after it was
// written, once its order has finished (or when no order knows it).
const printFileRetention = 7 * 24 * time.Hour

// sweepFiles removes print files nobody will fetch again.
func (s *Server) sweepFiles() {
	n, err := s.opt.Files.Sweep(time.Now().Add(-printFileRetention), func(name string) bool {
		o, found, err := s.opt.Queue.FindByPrintFile(name)
		return err != nil || (found && !o.Status.Terminal())
	})
	if err != nil {
		s.log.Warn("sweep print files", "err", err)
	} else if n > 0 {
		s.log.Info("removed old print files", "count", n)
	}
}

// followOrders applies the order events after cursor to their sessions and
// returns the new cursor.
func (s *Server) followOrders(cursor uint64) uint64 {
	for {
		evs, err := s.opt.Queue.EventsAfter(cursor, 500)
		if err != nil {
			s.log.Warn("read events", "err", err)
			return cursor
		}
		for _, ev := range evs {
			cursor = ev.ID
			if ev.Type == queue.EventOrderUpdate && ev.SessionID != "" {
				s.syncSession(ev.SessionID, ev.OrderID)
			}
		}
		if len(evs) < 500 {
			return cursor
		}
	}
}

// syncAllSessions catches up after a restart: orders may have moved while
// no one was following.
func (s *Server) syncAllSessions() error {
	pending, err := s.opt.Queue.Pending()
	if err != nil {
		return err
	}
	recent, err := s.opt.Queue.Recent(100)
	if err != nil {
		return err
	}
	for _, o := range append(pending, recent...) {
		s.syncSession(o.SessionID, o.ID)
	}
	return nil
}

func (s *Server) syncSession(sessionID, orderID string) {
	o, err := s.opt.Queue.Get(orderID)
	if err != nil {
		return
	}
	want := sessionOrderStatus(o.Status)
	_, err = s.opt.Sessions.Update(sessionID, func(ss *session.Session) error {
		if ss.OrderID != orderID {
			return errStale // the session has moved on to a newer order
		}
		ss.OrderStatus = want
		return nil
	})
	if err != nil && !errors.Is(err, errStale) && !errors.Is(err, session.ErrNotFound) {
		s.log.Debug("sync session with its order", "session", sessionID, "order", orderID, "err", err)
	}
}

var errStale = errors.New("stale")

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// machineRoute checks the machine code of the path and turns a returned
// error into the JSON error answer.
func (s *Server) machineRoute(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.checkMachine(r.PathValue("code")); err != nil {
			writeError(w, s.log, err)
			return
		}
		if err := h(w, r); err != nil {
			writeError(w, s.log, err)
		}
	}
}

// machineChecked passes requests for this machine on to h.
func (s *Server) machineChecked(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.checkMachine(r.PathValue("code")); err != nil {
			writeError(w, s.log, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) checkMachine(code string) error {
	if err := machine.ValidateCode(code); err != nil {
		return newError(http.StatusBadRequest, "invalid_machine_code", "That is not a valid machine code.")
	}
	if code != s.opt.MachineCode {
		return newError(http.StatusNotFound, "unknown_machine", "This kiosk does not know machine "+code+".")
	}
	return nil
}

// publicStatus is the status customers see.
type publicStatus struct {
	Code                 string     `json:"code"`
	Name                 string     `json:"name"`
	Location             string     `json:"location"`
	Status               string     `json:"status"`
	CurrentOrder         string     `json:"currentOrder,omitempty"`
	QueueLength          int        `json:"queueLength"`
	InkLevels            ink.Levels `json:"inkLevels"`
	EstimatedWaitSeconds int        `json:"estimatedWaitSeconds"`
	// QueueCapacity and Full let a customer (and the relay's pages of
	// nearby machines) see a full line before designing for it.
	QueueCapacity int    `json:"queueCapacity"`
	Full          bool   `json:"full"`
	Currency      string `json:"currency,omitempty"`
}

func (s *Server) publicStatus(st dispatch.Status) publicStatus {
	return publicStatus{
		Code: st.Code, Name: st.Name, Location: st.Location, Status: st.Status,
		CurrentOrder: st.CurrentOrder, QueueLength: st.QueueLength, InkLevels: st.InkLevels,
		EstimatedWaitSeconds: st.EstimatedWaitSeconds,
		QueueCapacity:        s.opt.MaxOrders, Full: st.QueueLength >= s.opt.MaxOrders,
		Currency: s.opt.Currency,
	}
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	st, err := s.opt.Machine.Status()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.publicStatus(st))
	return nil
}
