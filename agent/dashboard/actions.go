package dashboard

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"casefleet/agent/queue"
	"casefleet/shared/qr"
)

// Every action is logged with the client it came from: who paused the
// queue or cancelled an order is something a shop asks afterwards.

func (d *Dashboard) getState(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, d.State())
	return nil
}

func (d *Dashboard) pause(w http.ResponseWriter, r *http.Request) error {
	return d.setPaused(w, r, true)
}

func (d *Dashboard) resume(w http.ResponseWriter, r *http.Request) error {
	return d.setPaused(w, r, false)
}

// setPaused pauses or resumes handing new orders to the machine. An order
// already at the machine carries on. The pause lasts until resumed, across
// restarts of the agent.
func (d *Dashboard) setPaused(w http.ResponseWriter, r *http.Request, paused bool) error {
	if err := d.opt.Machine.SetPaused(paused); err != nil {
		d.log.Error("pause the queue", "paused", paused, "err", err)
		return &apiError{status: http.StatusInternalServerError, code: "store_failed", msg: "The kiosk could not record the change. Try again; if it keeps failing, run casefleet-agent doctor."}
	}
	d.log.Info("operator set the queue", "paused", paused, "client", clientKey(r))
	d.changed.notify()
	writeJSON(w, http.StatusOK, map[string]bool{"paused": paused})
	return nil
}

var (
	errBadOrderID = &apiError{status: http.StatusBadRequest, code: "bad_order_id", msg: "That is not an order id."}
	errNoOrder    = &apiError{status: http.StatusNotFound, code: "unknown_order", msg: "There is no such order on this kiosk."}
)

// order reads the order named in the path.
func (d *Dashboard) order(r *http.Request) (queue.Order, error) {
	id := r.PathValue("id")
	if !queue.ValidID(id) {
		return queue.Order{}, errBadOrderID
	}
	o, err := d.opt.Queue.Get(id)
	if errors.Is(err, queue.ErrNotFound) {
		return queue.Order{}, errNoOrder
	}
	return o, err
}

// cancelledByStaff is what the customer reads on their phone.
const cancelledByStaff = "The staff cancelled this order. Please ask them if you have questions."

// cancel cancels any order that has not finished. For one already at the
// machine the answer warns that the machine may still print it: the
// vendor has no cancel call.
func (d *Dashboard) cancel(w http.ResponseWriter, r *http.Request) error {
	o, err := d.order(r)
	if err != nil {
		return err
	}
	atMachine := false
	o, err = d.opt.Queue.Update(o.ID, func(o *queue.Order) error {
		if o.Status.Terminal() {
			return queue.ErrFinished
		}
		atMachine = !o.Waiting()
		o.Status, o.Stage = queue.StatusCancelled, queue.StageCancelled
		o.CancelledBy = queue.CancelledByStaff
		o.FailureReason = cancelledByStaff
		return nil
	})
	switch {
	case errors.Is(err, queue.ErrFinished):
		return &apiError{status: http.StatusConflict, code: "finished", msg: "This order has already finished; there is nothing to cancel."}
	case errors.Is(err, queue.ErrNotFound):
		return errNoOrder
	case err != nil:
		return err
	}
	d.log.Info("operator cancelled an order", "order", o.ID, "at_machine", atMachine, "client", clientKey(r))
	d.opt.Machine.Kick()
	d.changed.notify()
	answer := map[string]any{"order": orderView(o), "atMachine": atMachine}
	if atMachine {
		answer["warning"] = "The order had already been sent to the machine. The machine may still print it if the customer pays there."
	}
	writeJSON(w, http.StatusOK, answer)
	return nil
}

// printed settles an order of unknown outcome as printed, on the staff's
// word (they saw the case, or the printer lists it as done): the customer
// is told it is ready.
func (d *Dashboard) printed(w http.ResponseWriter, r *http.Request) error {
	o, err := d.order(r)
	if err != nil {
		return err
	}
	o, err = d.opt.Queue.Update(o.ID, func(o *queue.Order) error {
		if !o.Unknown() {
			return errNotUnknown
		}
		o.Status, o.Stage = queue.StatusComplete, queue.StageComplete
		o.FailureReason = ""
		return nil
	})
	switch {
	case errors.Is(err, errNotUnknown), errors.Is(err, queue.ErrFinished):
		return &apiError{status: http.StatusConflict, code: "not_unknown", msg: "Only an order whose outcome is unknown can be marked printed; the printer reports on this one."}
	case errors.Is(err, queue.ErrNotFound):
		return errNoOrder
	case err != nil:
		return err
	}
	d.log.Info("operator marked an order printed", "order", o.ID, "client", clientKey(r))
	d.opt.Machine.Kick()
	d.changed.notify()
	writeJSON(w, http.StatusOK, map[string]any{"order": orderView(o)})
	return nil
}

var errNotUnknown = errors.New("order outcome is known")

// retry puts a failed order, or one of unknown outcome that the staff
// say did not print, back in line at its old place, with a fresh set of
// attempts.
func (d *Dashboard) retry(w http.ResponseWriter, r *http.Request) error {
	o, err := d.order(r)
	if err != nil {
		return err
	}
	if o.Status != queue.StatusFailed && !o.Unknown() {
		return &apiError{status: http.StatusConflict, code: "not_failed", msg: "Only a failed order, or one whose outcome is unknown, can be retried; this one is " + string(o.Stage) + "."}
	}
	o, err = d.opt.Queue.Retry(o.ID)
	switch {
	case errors.Is(err, queue.ErrQueueFull):
		return &apiError{status: http.StatusConflict, code: "queue_full", msg: "The queue is full. Retry the order when there is room."}
	case errors.Is(err, queue.ErrNotFound):
		return errNoOrder
	case err != nil:
		return err
	}
	d.log.Info("operator retried an order", "order", o.ID, "client", clientKey(r))
	d.opt.Machine.Kick()
	d.changed.notify()
	writeJSON(w, http.StatusOK, map[string]any{"order": orderView(o)})
	return nil
}

// clean asks the printer to clean its print head. The answer comes later
// over MQTT and shows in the state's nozzle field.
func (d *Dashboard) clean(w http.ResponseWriter, r *http.Request) error {
	// One command at a time, and none while the printer is at it: a
	// double tap must not clean twice (it costs ink).
	if !d.cleanMu.TryLock() {
		return errAlreadyCleaning
	}
	defer d.cleanMu.Unlock()
	if d.cleaning() {
		return errAlreadyCleaning
	}
	if err := d.cleanNozzle(r.Context()); err != nil {
		d.log.Warn("nozzle cleaning not sent", "err", err)
		return &apiError{status: http.StatusBadGateway, code: "printer_unreachable", msg: "The cleaning command could not be sent to the printer. Check that the kiosk is online and try again."}
	}
	d.log.Info("operator asked for nozzle cleaning", "client", clientKey(r))
	writeJSON(w, http.StatusAccepted, map[string]any{"nozzle": d.State().Nozzle})
	return nil
}

var errAlreadyCleaning = &apiError{status: http.StatusConflict, code: "already_cleaning", msg: "The printer is already cleaning its nozzles. Wait for its answer."}

var errNoQR = &apiError{status: http.StatusConflict, code: "no_relay", msg: "No relay is set up for this kiosk, so there is no customer link yet. Set relay.url (or public_url)."}

func (d *Dashboard) qrCode() (string, *qr.Code, error) {
	link, err := d.qrLink()
	if errors.Is(err, errNoRelay) {
		return "", nil, errNoQR
	}
	if err != nil {
		return "", nil, err
	}
	c, err := qr.Encode(link)
	return link, c, err
}

// qrPNG draws the kiosk's QR code; ?scale=N sets the pixels per module
// (default 8).
func (d *Dashboard) qrPNG(w http.ResponseWriter, r *http.Request) error {
	scale := 8
	if v := r.URL.Query().Get("scale"); v != "" {
		n, err := parseSmallInt(v)
		if err != nil || n < 1 || n > qr.MaxScale {
			return &apiError{status: http.StatusBadRequest, code: "bad_scale", msg: "scale must be a whole number from 1 to 32."}
		}
		scale = n
	}
	_, c, err := d.qrCode()
	if err != nil {
		return err
	}
	b, err := c.PNG(scale)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(b)
	return nil
}

func (d *Dashboard) qrSVG(w http.ResponseWriter, r *http.Request) error {
	_, c, err := d.qrCode()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	_, _ = w.Write(c.SVG())
	return nil
}

// qrShow sets the QR code on the machine's own home screen.
func (d *Dashboard) qrShow(w http.ResponseWriter, r *http.Request) error {
	link, err := d.qrLink()
	if errors.Is(err, errNoRelay) {
		return errNoQR
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), d.opt.CallTimeout)
	defer cancel()
	if err := d.opt.Printer.SetQRCode(ctx, link); err != nil {
		d.log.Warn("set the machine's QR code", "err", err)
		return &apiError{status: http.StatusBadGateway, code: "printer_unreachable", msg: "The machine's screen could not be updated. Check that the kiosk is online and try again."}
	}
	d.log.Info("operator set the machine's QR code", "url", link, "client", clientKey(r))
	writeJSON(w, http.StatusOK, map[string]string{"url": link})
	return nil
}

// parseSmallInt parses a short decimal number from a query parameter.
func parseSmallInt(s string) (int, error) {
	if len(s) > 4 {
		return 0, errors.New("too long")
	}
	return strconv.Atoi(s)
}
