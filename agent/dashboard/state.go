package dashboard

import (
	"errors"
	"strings"
	"time"

	"casefleet/agent/dispatch"
	"casefleet/agent/queue"
	"casefleet/agent/update"
	"casefleet/shared/qr"
)

// How many finished orders are looked through for failures, and how many
// failures are shown.
const (
	recentScan   = 100
	showFailures = 10
)

// State is everything the dashboard shows, as GET /operator/api/state and
// each live update carry it.
type State struct {
	ServerTime time.Time `json:"serverTime"` // ages are counted from this, not the tablet's clock
	Version    string    `json:"version,omitempty"`
	// Machine is the printer: state, ink, current order, paused, MQTT, last
	// contact and last error. Code, name and location are always set.
	Machine  dispatch.Status `json:"machine"`
	Queue    []Order         `json:"queue"`    // unfinished orders in line order; the one at the machine has AtMachine set
	Failures []Order         `json:"failures"` // recent failed orders, newest first
	Tunnel   Tunnel          `json:"tunnel"`
	Nozzle   Nozzle          `json:"nozzle"`
	QR       QR              `json:"qr"`
	CanRetry bool            `json:"canRetry"` // this agent can put failed orders back in line
	// Full: the line holds as many orders as it may, so new customers are
	// refused here (and sent to other machines).
	Full bool `json:"full"`
	// Update is the agent's own update: the version it is on, what the
	// relay offered, how far it got, the installer's last result (nil
	// without an updater).
	Update *update.Status `json:"update,omitempty"`
	// Problems lists the parts that could not be read just now.
	Problems []string `json:"problems,omitempty"`
}

// Order is an order as operators see it: no session id (a customer's
// key) and no file URL.
type Order struct {
	ID            string     `json:"id"`
	Status        string     `json:"status"`
	Stage         string     `json:"stage"`
	Position      int        `json:"position,omitempty"` // place in line while waiting
	PickupCode    string     `json:"pickupCode,omitempty"`
	ProductID     string     `json:"productId,omitempty"`
	Attempts      int        `json:"attempts"`
	CreatedAt     time.Time  `json:"createdAt"`
	SentAt        *time.Time `json:"sentAt,omitempty"`
	StartedAt     *time.Time `json:"startedAt,omitempty"`
	CompletedAt   *time.Time `json:"completedAt,omitempty"`
	FailureReason string     `json:"failureReason,omitempty"`
	// AtMachine: the order has been handed to the machine, so cancelling it
	// here may not stop the machine printing it.
	AtMachine bool `json:"atMachine"`
	// Unknown: nobody knows whether it printed; it waits out of the line
	// for the staff to say (Printed, Retry, Cancel).
	Unknown bool `json:"unknown"`
}

func orderView(o queue.Order) Order {
	return Order{
		ID: o.ID, Status: string(o.Status), Stage: string(o.Stage), Position: o.QueuePosition,
		PickupCode: o.PickupCode, ProductID: o.ProductID, Attempts: o.Attempts,
		CreatedAt: o.CreatedAt, SentAt: o.SentAt, StartedAt: o.StartedAt, CompletedAt: o.CompletedAt,
		FailureReason: o.FailureReason, AtMachine: o.AtMachine(), Unknown: o.Unknown(),
	}
}

// Tunnel is the link to the relay.
type Tunnel struct {
	Configured bool       `json:"configured"` // relay.url is set
	Reported   bool       `json:"reported"`   // the tunnel has reported a state since the agent started
	Connected  bool       `json:"connected"`
	Since      *time.Time `json:"since,omitempty"` // connected since, or down since
	Error      string     `json:"error,omitempty"`
	Rejected   bool       `json:"rejected"` // the relay refused this kiosk's token
	PublicURL  string     `json:"publicUrl,omitempty"`
}

// QR is the kiosk's customer link, or why there is none.
type QR struct {
	URL   string `json:"url,omitempty"`
	Error string `json:"error,omitempty"`
}

// State reads everything the dashboard shows, afresh.
func (d *Dashboard) State() State {
	now := d.opt.Now()
	s := State{
		ServerTime: now.UTC(),
		Version:    d.opt.Version,
		Queue:      []Order{},
		Failures:   []Order{},
	}
	s.CanRetry = true
	if m, err := d.opt.Machine.Status(); err != nil {
		d.log.Warn("read machine status", "err", err)
		s.Problems = append(s.Problems, "The printer's status could not be read.")
	} else {
		s.Machine = m
	}
	s.Machine.Code, s.Machine.Name, s.Machine.Location = d.opt.MachineCode, d.opt.Name, d.opt.Location

	if pending, err := d.opt.Queue.Pending(); err != nil {
		d.log.Warn("read the queue", "err", err)
		s.Problems = append(s.Problems, "The queue could not be read.")
	} else {
		for _, o := range pending {
			s.Queue = append(s.Queue, orderView(o))
		}
	}
	// The queue knows its own cap (queue.max_orders); a Queue without
	// Summary is never shown full.
	if sq, ok := d.opt.Queue.(interface{ Summary() (queue.Summary, error) }); ok {
		if sum, err := sq.Summary(); err != nil {
			d.log.Warn("read the queue summary", "err", err)
		} else {
			s.Full = sum.Full
		}
	}
	if recent, err := d.opt.Queue.Recent(recentScan); err != nil {
		d.log.Warn("read recent orders", "err", err)
		s.Problems = append(s.Problems, "Recent orders could not be read.")
	} else {
		for _, o := range recent {
			if o.Status == queue.StatusFailed && len(s.Failures) < showFailures {
				s.Failures = append(s.Failures, orderView(o))
			}
		}
	}

	d.mu.Lock()
	tun, nozzle := d.tunnel, d.nozzle
	d.mu.Unlock()
	s.Tunnel = Tunnel{Configured: d.opt.RelayURL != ""}
	if tun != nil {
		s.Tunnel.Reported = true
		s.Tunnel.Connected, s.Tunnel.Rejected, s.Tunnel.PublicURL = tun.Connected, tun.Rejected, tun.PublicURL
		if !tun.Since.IsZero() {
			t := tun.Since.UTC()
			s.Tunnel.Since = &t
		}
		if tun.Err != nil && !tun.Connected {
			s.Tunnel.Error = tun.Err.Error()
		}
	}
	s.Nozzle = nozzle.view(now)
	if d.opt.Updates != nil {
		u := d.opt.Updates.Status()
		s.Update = &u
	}
	link, err := d.qrLink()
	switch {
	case errors.Is(err, errNoRelay):
		s.QR.Error = "No relay is set up for this kiosk, so customers have no link to scan yet. Set relay.url (or public_url) in the agent's configuration."
	case err != nil:
		s.QR.Error = "The QR code's link cannot be made: " + err.Error()
	default:
		s.QR.URL = link
	}
	return s
}

// errNoRelay: the QR code's link needs the relay's public URL.
var errNoRelay = errors.New("no relay: set relay.url or public_url")

// qrLink is the link on this kiosk's QR code: the editor on the relay's
// public URL (public_url, else what the relay announced, else relay.url).
func (d *Dashboard) qrLink() (string, error) {
	base := d.opt.PublicURL
	if base == "" {
		d.mu.Lock()
		if d.tunnel != nil {
			base = d.tunnel.PublicURL
		}
		d.mu.Unlock()
	}
	if base == "" {
		base = d.opt.RelayURL
	}
	if strings.TrimSpace(base) == "" {
		return "", errNoRelay
	}
	return qr.EditorURL(base, d.opt.MachineCode, d.opt.Location)
}
