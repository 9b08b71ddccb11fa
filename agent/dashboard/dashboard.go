// Package dashboard is the operator dashboard on the agent's LAN listener:
// a page at /operator/ and a JSON API under /operator/api/ for the staff on
// the shop floor. It shows the printer (state, ink, last contact), the
// order at the machine, the queue with each order's age and stage, recent
// failures with their reasons, the relay tunnel and the MQTT link, and
// lets an operator pause and resume the queue, cancel or retry an order,
// clean the print head and show the kiosk's QR code. The page updates live
// over server-sent events and needs nothing from the internet.
//
// Everything is behind the operator PIN (lan.operator_pin): a login form
// starts a session the agent keeps in memory (its random token in an
// HttpOnly, SameSite=Strict cookie; logout or a restart ends it), and
// scripts send "Authorization: Bearer <pin>". Wrong PINs lock the client
// out with a growing pause. Without a PIN the dashboard is switched off
// and says which setting turns it on.
package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"casefleet/agent/dispatch"
	"casefleet/agent/queue"
	"casefleet/agent/update"
	"casefleet/shared/tunnel"
)

// Machine is what the dashboard needs of the dispatcher
// (*dispatch.Dispatcher).
type Machine interface {
	Status() (dispatch.Status, error)
	// SetPaused stops (or resumes) handing new orders to the machine,
	// for good (it outlives a restart).
	SetPaused(paused bool) error
	// Kick asks the dispatcher to look at the queue now.
	Kick()
}

// Printer is what the dashboard sends to the printer (the device link,
// chitu.Link).
type Printer interface {
	CleanNozzle(ctx context.Context) error
	SetQRCode(ctx context.Context, url string) error
}

// Queue is what the dashboard needs of the agent's queue (*queue.Queue).
type Queue interface {
	Pending() ([]queue.Order, error)
	Recent(n int) ([]queue.Order, error)
	Get(id string) (queue.Order, error)
	Update(id string, fn func(*queue.Order) error) (queue.Order, error)
	Subscribe() (<-chan struct{}, func())
	EventsAfter(after uint64, limit int) ([]queue.Event, error)
	Retry(id string) (queue.Order, error)
	// Verify checks the store's consistency (for doctor).
	Verify() error
}

// Updates is what the dashboard shows of the agent's own updates.
type Updates interface {
	Status() update.Status
}

// MinPINLength is the shortest operator PIN accepted: with the lockout,
// six digits take years to guess.
const MinPINLength = 6

// Options wire the dashboard to the agent's parts and settings.
type Options struct {
	// PIN is the operator PIN (lan.operator_pin). Empty switches the
	// dashboard off; shorter than MinPINLength is an error.
	PIN string

	MachineCode string
	Name        string
	Location    string
	Version     string
	// RelayURL (relay.url) and PublicURL (public_url) are where the QR
	// code's link points: public_url if set, else the public URL the relay
	// announced, else relay.url. Empty RelayURL means no relay.
	RelayURL  string
	PublicURL string

	Queue   Queue
	Machine Machine
	Printer Printer
	// Updates, if set, is the agent's updater (*update.Updater): its
	// state is a line of the overview. Call UpdateChanged on its changes.
	Updates Updates

	// CallTimeout bounds a command to the printer; default 20s.
	CallTimeout time.Duration
	Logger      *slog.Logger
	// Now is the clock (lockouts, sessions); default time.Now.
	Now func() time.Time
}

// Dashboard serves the operator dashboard. Create it with New, mount
// Handler at /operator/, run Run, and call SetTunnel on tunnel changes.
type Dashboard struct {
	opt  Options
	log  *slog.Logger
	auth *auth

	changed *broadcast    // wakes the live streams
	done    chan struct{} // closed when Run returns: streams end
	stop    sync.Once
	cleanMu sync.Mutex // held while a cleaning command is being sent

	mu      sync.Mutex
	tunnel  *tunnel.State // nil until the first report
	nozzle  nozzleState
	streams int // open live streams
}

// New checks the options and returns the dashboard.
func New(opt Options) (*Dashboard, error) {
	if opt.PIN != "" && len(opt.PIN) < MinPINLength {
		return nil, fmt.Errorf("lan.operator_pin: at least %d characters, please", MinPINLength)
	}
	if opt.Queue == nil || opt.Machine == nil || opt.Printer == nil {
		return nil, errors.New("dashboard: Queue, Machine and Printer are required")
	}
	if opt.CallTimeout <= 0 {
		opt.CallTimeout = 20 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Dashboard{
		opt:     opt,
		log:     opt.Logger.With("machine", opt.MachineCode, "component", "dashboard"),
		auth:    newAuth(opt.PIN, opt.Now),
		changed: newBroadcast(),
		done:    make(chan struct{}),
	}, nil
}

// Enabled reports whether an operator PIN is set.
func (d *Dashboard) Enabled() bool { return d.auth.enabled() }

// SetTunnel records the relay tunnel's state; call it from the tunnel's
// state hook.
func (d *Dashboard) SetTunnel(st tunnel.State) {
	d.mu.Lock()
	d.tunnel = &st
	d.mu.Unlock()
	d.changed.notify()
}

// UpdateChanged tells the live dashboards the update state changed; call
// it from the updater's OnChange.
func (d *Dashboard) UpdateChanged() { d.changed.notify() }

// Run follows the queue's event log for what the dashboard shows besides
// orders (nozzle cleaning results) until ctx is done; then it ends the
// live streams, so the HTTP server can shut down. It never fails the
// agent: read errors are logged and retried at the next change.
func (d *Dashboard) Run(ctx context.Context) error {
	defer d.stop.Do(func() { close(d.done) })
	changes, stop := d.opt.Queue.Subscribe()
	defer stop()
	var cursor uint64 // from the oldest event kept: the last result survives a restart
	for {
		cursor = d.follow(cursor)
		select {
		case <-ctx.Done():
			return nil
		case <-changes:
		}
	}
}

// broadcast wakes any number of waiters at once: each waits on the
// channel it got from wait, which notify closes and replaces.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func newBroadcast() *broadcast { return &broadcast{ch: make(chan struct{})} }

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcast) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.ch)
	b.ch = make(chan struct{})
}
