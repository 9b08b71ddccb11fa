package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"casefleet/agent/chitu"
	"casefleet/agent/ink"
	"casefleet/agent/queue"
)

// Options set the dispatcher's rules; zero values take the defaults noted.
type Options struct {
	MachineCode string
	Name        string
	Location    string

	PaymentTimeout  time.Duration // unpaid this long after sending: released (5m)
	InflightTimeout time.Duration // paid or printing with no word this long: outcome unknown (30m)
	ResendGrace     time.Duration // ambiguous send with no sign of arrival this long: outcome unknown (2m)
	RetryDelay      time.Duration // first pause after the machine refused an order; doubles up to a minute (10s)
	RefusalTimeout  time.Duration // refused this long in a row: the order fails (10m)
	PollInterval    time.Duration // how often the open API is asked for the machine's state (15s)
	CallTimeout     time.Duration // per device call (20s)
	MaxAttempts     int           // sends per order before it fails (3)

	// FileURL returns the public URL of a print file. It fails while no
	// public base URL is known (no relay handshake and no setting yet).
	FileURL func(token string) (string, error)

	Logger *slog.Logger
	Now    func() time.Time
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.PaymentTimeout, 5*time.Minute)
	def(&o.InflightTimeout, 30*time.Minute)
	def(&o.ResendGrace, 2*time.Minute)
	def(&o.RetryDelay, 10*time.Second)
	def(&o.RefusalTimeout, 10*time.Minute)
	def(&o.PollInterval, 15*time.Second)
	def(&o.CallTimeout, 20*time.Second)
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Dispatcher drives one machine. Create it with New and run it with Run.
type Dispatcher struct {
	link chitu.Link
	q    *queue.Queue
	opt  Options
	log  *slog.Logger

	kick chan struct{}

	pauseMu sync.Mutex // held while a pause or resume is stored, not while read

	mu        sync.Mutex
	machine   machineState
	linked    bool // the MQTT link has connected since the start: stored statuses are in
	paused    bool
	holdUntil time.Time            // no new send before this (after a refusal)
	abandoned map[string]time.Time // vendor order ids given up on; never adopted again
	refusals  refusals             // the head order's refusals in a row
	published Status               // last machineStatus written to the event log
}

// machineState is what the dispatcher knows of the printer.
type machineState struct {
	deviceID    string // the platform's id of the machine
	reachable   bool   // the open API answered the last poll
	online      bool   // the platform says the machine is online
	normal      bool   // the last machineInfo said isNormal
	ink         ink.Levels
	lastContact time.Time
	lastError   string
}

// New returns a dispatcher for the machine behind link. It starts paused
// if an operator left the queue paused.
func New(link chitu.Link, q *queue.Queue, opt Options) *Dispatcher {
	opt.defaults()
	d := &Dispatcher{
		link:      link,
		q:         q,
		opt:       opt,
		log:       opt.Logger.With("machine", opt.MachineCode),
		kick:      make(chan struct{}, 1),
		machine:   machineState{normal: true, ink: ink.AllUnknown()},
		abandoned: make(map[string]time.Time),
	}
	paused, err := q.Paused()
	switch {
	case err != nil:
		// Unknown: printing behind an operator's back is worse than
		// waiting for someone to press Resume.
		paused = true
		d.log.Error("could not read whether an operator left the queue paused; starting paused: resume it from the dashboard", "err", err)
	case paused:
		d.log.Warn("the queue is paused, as an operator left it: no new order goes to the machine until it is resumed")
	}
	d.paused = paused
	return d
}

// Kick asks the dispatcher to look at the queue now.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// SetPaused stops (or resumes) handing new orders to the machine. An order
// already at the machine carries on. The choice is stored: it outlives a
// restart of the agent.
func (d *Dispatcher) SetPaused(paused bool) error {
	// Store and memory change together: two operators pressing Pause and
	// Resume at once must not leave them disagreeing (a restart would
	// flip the queue).
	d.pauseMu.Lock()
	defer d.pauseMu.Unlock()
	if err := d.q.SetPaused(paused); err != nil {
		return err
	}
	d.mu.Lock()
	d.paused = paused
	d.mu.Unlock()
	d.Kick()
	return nil
}

// Run drives the machine until ctx is done.
func (d *Dispatcher) Run(ctx context.Context) error {
	changes, stop := d.q.Subscribe()
	defer stop()
	poll := time.NewTicker(d.opt.PollInterval)
	defer poll.Stop()
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()

	d.poll(ctx)
	events := d.link.Events()
	for {
		next := d.step(ctx)
		d.publishStatus()
		wake.Reset(next)
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return errors.New("device link closed")
			}
			d.handle(ctx, ev)
			ev.Done() // applied and committed: the broker may forget it
		case <-changes:
		case <-d.kick:
		case <-poll.C:
			d.poll(ctx)
		case <-wake.C:
		}
	}
}

// idle is how long step waits when nothing is due sooner.
const idle = time.Minute

// step makes the one decision that is due now and returns how long until
// the next time-based decision.
func (d *Dispatcher) step(ctx context.Context) time.Duration {
	active, ok, err := d.q.Active()
	if err != nil {
		d.log.Error("read active order", "err", err)
		return time.Second
	}
	if ok {
		return d.watch(ctx, active)
	}
	now := d.opt.Now()
	d.mu.Lock()
	// The line moves only once the MQTT link has connected since the
	// start: the statuses the broker kept for us (orders that moved while
	// the agent was down) settle the orders in flight first.
	paused, hold, ready := d.paused, d.holdUntil, d.machine.reachable && d.machine.online && d.linked
	d.mu.Unlock()
	if paused || !ready {
		return idle
	}
	if now.Before(hold) {
		return hold.Sub(now)
	}
	head, ok, err := d.q.Head()
	if err != nil {
		d.log.Error("read queue head", "err", err)
		return time.Second
	}
	if !ok {
		return idle
	}
	d.send(ctx, head)
	return 0
}

// send hands one queued order to the machine.
func (d *Dispatcher) send(ctx context.Context, head queue.Order) {
	log := d.log.With("order", head.ID)
	url, err := d.opt.FileURL(head.PrintFile)
	if err != nil {
		log.Warn("cannot send: no public URL for print files yet", "err", err)
		d.hold(d.opt.RetryDelay)
		return
	}
	now := d.opt.Now()
	d.mu.Lock()
	deviceID := d.machine.deviceID
	d.mu.Unlock()
	o, err := d.q.Update(head.ID, func(o *queue.Order) error {
		if o.Stage != queue.StageQueued {
			return errNotQueued
		}
		o.DeviceID = deviceID
		o.Stage = queue.StageSending
		o.Attempts++
		o.SentAt = &now
		o.FetchedAt = nil
		o.ImageURL = url
		return nil
	})
	if err != nil {
		if !errors.Is(err, errNotQueued) {
			log.Error("mark order sending", "err", err)
		}
		return
	}
	log.Info("sending order to the machine", "attempt", o.Attempts, "image_url", url)
	cctx, cancel := context.WithTimeout(ctx, d.opt.CallTimeout)
	vendorID, err := d.link.CreateOrder(cctx, o.ProductID, url)
	cancel()
	switch {
	case err == nil:
		_, err = d.q.Update(o.ID, func(o *queue.Order) error {
			if o.Stage != queue.StageSending {
				return errNotQueued
			}
			o.Stage = queue.StageSent
			o.VendorOrderID = vendorID
			o.PickupCode = pickupCode(vendorID)
			return nil
		})
		if err != nil && !errors.Is(err, errNotQueued) {
			// The order is at the machine but we could not record its id:
			// it stays "sending" and is adopted by its first status.
			log.Error("record vendor order id", "vendor_order", vendorID, "err", err)
			return
		}
		log.Info("order at the machine", "vendor_order", vendorID)
	case chitu.IsRejected(err):
		d.refused(o, err)
	default:
		// Ambiguous: the platform may have created it. watch decides once
		// the machine shows it has it, or ResendGrace passes without a sign.
		log.Warn("create order failed ambiguously; waiting for a sign before resending", "err", err, "grace", d.opt.ResendGrace)
	}
}

var errNotQueued = errors.New("order moved on meanwhile")

// watch checks the order at the machine against the clock and the
// machine's state, and returns when to look again.
func (d *Dispatcher) watch(ctx context.Context, o queue.Order) time.Duration {
	now := d.opt.Now()
	d.mu.Lock()
	m := d.machine
	d.mu.Unlock()
	if m.reachable && !m.online {
		d.log.Warn("machine offline with an order at it", "order", o.ID, "stage", o.Stage)
		switch o.Stage {
		case queue.StageSent, queue.StageAwaitingPayment:
			// Not paid, so not printed: it can go again once the machine
			// is back (its vendor order is given up on).
			d.forget(o.VendorOrderID)
			d.requeueOrFail(o, "The printer went offline before your case was printed. Please ask the staff for help.")
		default:
			// It may have reached the machine (sending) or be paid and
			// printing: only the staff can tell.
			d.unknown(o.ID, "The printer went offline while it had this order.")
		}
		return 0
	}
	since := func(t *time.Time) time.Time {
		if t != nil {
			return *t
		}
		return o.UpdatedAt
	}
	switch o.Stage {
	case queue.StageSending:
		if o.FetchedAt != nil {
			d.log.Info("machine fetched the print file: the order reached it", "order", o.ID)
			d.update(o.ID, func(o *queue.Order) { o.Stage = queue.StageSent })
			return 0
		}
		due := since(o.SentAt).Add(d.opt.ResendGrace)
		if !now.Before(due) {
			// Sending again could print it twice; giving up could lose a
			// case that prints. Neither without evidence: the staff decide.
			d.log.Warn("no sign whether the machine got the order: outcome unknown, for the staff to decide", "order", o.ID)
			d.unknown(o.ID, "The send to the printer was cut short and the printer never said whether it got the order.")
			return 0
		}
		return due.Sub(now)
	case queue.StageSent, queue.StageAwaitingPayment:
		due := since(o.SentAt).Add(d.opt.PaymentTimeout)
		if !now.Before(due) && o.VendorOrderID == "" {
			// Its vendor order was never matched to it, so its statuses
			// (paid, printed) could not be heard: not paid is not known.
			d.log.Warn("unpaid past the timeout, but its vendor order was never matched: outcome unknown, for the staff to decide", "order", o.ID)
			d.unknown(o.ID, "The printer took the order, but its progress could not be followed.")
			return 0
		}
		if !now.Before(due) {
			d.log.Info("payment timeout: releasing the order", "order", o.ID)
			d.forget(o.VendorOrderID)
			d.fail(o.ID, fmt.Sprintf("It was not paid at the kiosk within %s, so the order was released for the next customer. You can order again.", humanDuration(d.opt.PaymentTimeout)))
			return 0
		}
		return due.Sub(now)
	default: // paid, printing
		due := o.UpdatedAt.Add(d.opt.InflightTimeout)
		if !now.Before(due) {
			d.log.Warn("no word from the machine about the order: outcome unknown, for the staff to decide", "order", o.ID, "stage", o.Stage)
			d.unknown(o.ID, fmt.Sprintf("The printer said nothing more about this order after %q.", o.Stage))
			return 0
		}
		return due.Sub(now)
	}
}

// refusals counts the refusals in a row of the order at the head.
type refusals struct {
	order string
	count int
	since time.Time
}

// refused handles a definite refusal: nothing reached the machine, so it
// costs the order no attempt. The order stays at the head and is offered
// again with a growing pause (the machine may be busy with an unpaid
// order, say) until it has been refused for RefusalTimeout.
func (d *Dispatcher) refused(o queue.Order, err error) {
	now := d.opt.Now()
	d.mu.Lock()
	if d.refusals.order != o.ID {
		d.refusals = refusals{order: o.ID, since: now}
	}
	d.refusals.count++
	r := d.refusals
	d.mu.Unlock()

	reason := "The printer refused the order: " + rejectionText(err) + "."
	giveUp := now.Sub(r.since) >= d.opt.RefusalTimeout
	d.log.Warn("machine refused the order", "order", o.ID, "err", err, "refusals", r.count, "giving_up", giveUp)
	_, uerr := d.q.Update(o.ID, func(o *queue.Order) error {
		if giveUp {
			o.Status, o.Stage = queue.StatusFailed, queue.StageFailed
			o.FailureReason = reason
			o.CompletedAt = &now
			return nil
		}
		o.Stage = queue.StageQueued
		o.Attempts--
		o.SentAt, o.FetchedAt = nil, nil
		return nil
	})
	if uerr != nil {
		d.log.Error("requeue refused order", "order", o.ID, "err", uerr)
	}
	pause := d.opt.RetryDelay << min(r.count-1, 16)
	d.hold(min(pause, max(time.Minute, d.opt.RetryDelay)))
}

// requeueOrFail puts an order back at the head of the queue (it keeps its
// place: its sequence number) or, past MaxAttempts, fails it with reason.
func (d *Dispatcher) requeueOrFail(o queue.Order, reason string) {
	now := d.opt.Now()
	_, err := d.q.Update(o.ID, func(o *queue.Order) error {
		if o.Attempts >= d.opt.MaxAttempts {
			o.Status, o.Stage = queue.StatusFailed, queue.StageFailed
			o.FailureReason = reason
			o.CompletedAt = &now
			return nil
		}
		o.Status, o.Stage = queue.StatusQueued, queue.StageQueued
		o.VendorOrderID, o.PickupCode = "", ""
		o.SentAt, o.FetchedAt, o.StartedAt = nil, nil, nil
		return nil
	})
	if err != nil {
		d.log.Error("requeue order", "order", o.ID, "err", err)
	}
}

// unknown takes an order out of the line as of unknown outcome: the staff
// decide whether it printed (Mark printed), should go again (Retry) or
// not (Cancel); a late status from the machine settles it too. why is for
// the staff; the customer is told to ask them.
func (d *Dispatcher) unknown(id, why string) {
	d.update(id, func(o *queue.Order) {
		o.Stage = queue.StageUnknownOutcome
		o.FailureReason = why
	})
}

func (d *Dispatcher) fail(id, reason string) {
	now := d.opt.Now()
	d.update(id, func(o *queue.Order) {
		o.Status, o.Stage = queue.StatusFailed, queue.StageFailed
		o.FailureReason = reason
		o.CompletedAt = &now
	})
}

func (d *Dispatcher) update(id string, fn func(*queue.Order)) {
	if _, err := d.q.Update(id, func(o *queue.Order) error { fn(o); return nil }); err != nil {
		d.log.Error("update order", "order", id, "err", err)
	}
}

// forget remembers a vendor order id we gave up on, so its late statuses
// are never adopted by another order.
func (d *Dispatcher) forget(vendorID string) {
	if vendorID == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.opt.Now()
	for id, at := range d.abandoned {
		if now.Sub(at) > 24*time.Hour {
			delete(d.abandoned, id)
		}
	}
	d.abandoned[vendorID] = now
}

func (d *Dispatcher) hold(dur time.Duration) {
	d.mu.Lock()
	d.holdUntil = d.opt.Now().Add(dur)
	d.mu.Unlock()
}

// pickupCode is what the customer tells the staff: the last four
// characters of the vendor's order id.
func pickupCode(vendorID string) string {
	r := []rune(vendorID)
	if len(r) > 4 {
		r = r[len(r)-4:]
	}
	return string(r)
}

func rejectionText(err error) string {
	var r *chitu.RejectedError
	if errors.As(err, &r) && r.Msg != "" {
		return r.Msg
	}
	return "no reason given"
}

func humanDuration(d time.Duration) string {
	if d%time.Minute == 0 {
		m := int(d / time.Minute)
		if m == 1 {
			return "1 minute"
		}
		return fmt.Sprintf("%d minutes", m)
	}
	return d.Round(time.Second).String()
}
