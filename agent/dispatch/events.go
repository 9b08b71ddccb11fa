package dispatch

import (
	"context"

	"casefleet/agent/chitu"
	"casefleet/agent/chitu/protocol"
	"casefleet/agent/queue"
)

// handle applies one thing the device link heard.
func (d *Dispatcher) handle(ctx context.Context, ev chitu.Event) {
	switch {
	case ev.Resync:
		// Statuses may have been missed while MQTT was down: read the
		// machine again now; the driver has already asked for machineInfo.
		d.log.Info("device link (re)connected; re-reading the machine")
		d.mu.Lock()
		d.linked = true
		d.mu.Unlock()
		d.poll(ctx)
	case ev.Msg.MachineInfo != nil:
		d.mu.Lock()
		d.machine.normal = ev.Msg.MachineInfo.IsNormal
		d.machine.lastContact = d.opt.Now()
		d.mu.Unlock()
	case ev.Msg.CleanNozzle != nil:
		d.log.Info("nozzle cleaning finished", "ok", ev.Msg.CleanNozzle.Result)
		d.mu.Lock()
		d.machine.lastContact = d.opt.Now()
		d.mu.Unlock()
		// Operators' dashboards learn the answer from the log.
		if _, err := d.q.AppendEvent(queue.EventNozzleClean, queue.NozzleClean{Result: ev.Msg.CleanNozzle.Result}); err != nil {
			d.log.Error("append nozzleClean event", "err", err)
		}
	case ev.Msg.OrderStatus != nil:
		d.mu.Lock()
		d.machine.lastContact = d.opt.Now()
		d.mu.Unlock()
		d.applyOrderStatus(ev.Msg.OrderStatus)
	}
}

// stageRank orders our stages; a vendor status only ever moves an order
// forward, so duplicates and late arrivals change nothing.
func stageRank(s queue.Stage) int {
	switch s {
	case queue.StageQueued:
		return 0
	case queue.StageSending:
		return 1
	case queue.StageSent:
		return 2
	case queue.StageAwaitingPayment:
		return 3
	case queue.StagePaid:
		return 4
	case queue.StagePrinting:
		return 5
	case queue.StageUnknownOutcome:
		return -1 // any word from the machine settles it
	}
	return 6 // terminal
}

func vendorStage(status string) queue.Stage {
	switch status {
	case protocol.OrderPending:
		return queue.StageAwaitingPayment
	case protocol.OrderPaid:
		return queue.StagePaid
	case protocol.OrderPrinting:
		return queue.StagePrinting
	case protocol.OrderCompleted:
		return queue.StageComplete
	}
	return queue.StageFailed
}

// adoptSkew is how much earlier than our send an adopted status may be
// stamped (clocks differ).
const adoptSkewMillis = 60_000

func (d *Dispatcher) applyOrderStatus(st *protocol.OrderStatus) {
	o, found, err := d.findVendorOrder(st)
	if err != nil {
		d.log.Error("look up vendor order", "vendor_order", st.OrderID, "err", err)
		return
	}
	vendorID := st.OrderID.String()
	if vendorID == "" {
		vendorID = st.OrderNo
	}
	if !found {
		o, found = d.adoptable(st, vendorID)
		if !found {
			d.log.Debug("order status for an order that is not ours", "vendor_order", vendorID, "status", st.Status)
			return
		}
		d.log.Info("adopting the vendor order of an order whose send was cut short", "order", o.ID, "vendor_order", vendorID)
	}
	target := vendorStage(st.Status)
	if stageRank(target) <= stageRank(o.Stage) || o.Status.Terminal() {
		return
	}
	now := d.opt.Now()
	updated, err := d.q.UpdateAndRecord(o.ID, func(o *queue.Order) (queue.Measure, error) {
		var m queue.Measure
		if stageRank(target) <= stageRank(o.Stage) || o.Status.Terminal() {
			return m, errNotQueued
		}
		if o.VendorOrderID == "" {
			o.VendorOrderID = vendorID
			o.PickupCode = pickupCode(vendorID)
		}
		// Durations that feed the wait estimate, recorded with the change.
		if stageRank(o.Stage) < stageRank(queue.StagePaid) && stageRank(target) >= stageRank(queue.StagePaid) && target != queue.StageFailed && o.SentAt != nil {
			m.PayWait = now.Sub(*o.SentAt)
		}
		if target == queue.StageComplete && o.StartedAt != nil {
			m.Print = now.Sub(*o.StartedAt)
		}
		if o.Stage == queue.StageUnknownOutcome {
			o.FailureReason = "" // settled by the machine's word
		}
		o.Stage = target
		switch target {
		case queue.StagePrinting:
			o.Status = queue.StatusPrinting
			o.StartedAt = &now
		case queue.StageComplete:
			o.Status = queue.StatusComplete
			o.CompletedAt = &now
		case queue.StageFailed:
			o.Status = queue.StatusFailed
			o.CompletedAt = &now
			o.FailureReason = "The printer could not print your case."
			if st.PayStatus == protocol.PayRefunded {
				o.FailureReason += " Your payment was refunded."
			} else {
				o.FailureReason += " Please ask the staff for help."
			}
		}
		return m, nil
	})
	if err != nil {
		if err != errNotQueued {
			d.log.Error("apply order status", "order", o.ID, "err", err)
		}
		return
	}
	d.log.Info("order moved", "order", o.ID, "vendor_order", vendorID, "stage", updated.Stage)
}

func (d *Dispatcher) findVendorOrder(st *protocol.OrderStatus) (queue.Order, bool, error) {
	if id := st.OrderID.String(); id != "" {
		o, ok, err := d.q.FindByVendorID(id)
		if ok || err != nil {
			return o, ok, err
		}
	}
	if st.OrderNo != "" {
		return d.q.FindByVendorID(st.OrderNo)
	}
	return queue.Order{}, false, nil
}

// adoptable returns the active order when it was sent but we never learned
// its vendor id (the create call was cut short) and st plausibly belongs
// to it: one order at a time per machine makes an unknown id ours.
func (d *Dispatcher) adoptable(st *protocol.OrderStatus, vendorID string) (queue.Order, bool) {
	d.mu.Lock()
	_, given := d.abandoned[vendorID]
	d.mu.Unlock()
	if given {
		return queue.Order{}, false
	}
	plausible := func(o queue.Order) bool {
		return o.VendorOrderID == "" && o.SentAt != nil &&
			(st.Timestamp <= 0 || st.Timestamp >= o.SentAt.UnixMilli()-adoptSkewMillis)
	}
	// The orders that could own it: the one at the machine and those of
	// unknown outcome, each sent without our learning its vendor id.
	var could []queue.Order
	active, ok, err := d.q.Active()
	if err != nil {
		return queue.Order{}, false
	}
	if ok && plausible(active) {
		could = append(could, active)
	}
	unknown, err := d.q.Unknown()
	if err != nil {
		return queue.Order{}, false
	}
	for _, o := range unknown {
		if plausible(o) {
			could = append(could, o)
		}
	}
	if len(could) == 1 {
		return could[0], true
	}
	// Several could. The machine works on one order at a time: if it
	// fetched one's print file after every other was sent, it had that
	// one while the others were offered (and refused), so the vendor
	// order is that one's. A fetch from before another was sent proves
	// nothing: the machine may have finished it and taken the other.
	// Else none is given it: telling one customer their case is done with
	// another's print is worse than leaving both to the staff.
	var owner []queue.Order
	for _, o := range could {
		if o.FetchedAt == nil {
			continue
		}
		after := true
		for _, other := range could {
			if other.ID != o.ID && !o.FetchedAt.After(*other.SentAt) {
				after = false
			}
		}
		if after {
			owner = append(owner, o)
		}
	}
	if len(owner) == 1 {
		return owner[0], true
	}
	if len(could) > 1 {
		ids := make([]string, len(could))
		for i, o := range could {
			ids[i] = o.ID
		}
		d.log.Warn("a vendor order several of ours could own: adopted by none, for the staff to settle", "vendor_order", vendorID, "orders", ids)
	}
	return queue.Order{}, false
}

// poll reads the machine's state from the open API.
func (d *Dispatcher) poll(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, d.opt.CallTimeout)
	m, err := d.link.Machine(cctx)
	cancel()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		if d.machine.reachable {
			d.log.Warn("open API unreachable", "err", err)
		}
		d.machine.reachable = false
		d.machine.lastError = err.Error()
		return
	}
	if d.machine.online != m.Online || !d.machine.reachable {
		d.log.Info("machine state", "online", m.Online)
	}
	d.machine.reachable = true
	d.machine.deviceID = m.DeviceID
	d.machine.online = m.Online
	d.machine.ink = m.Ink
	d.machine.lastContact = d.opt.Now()
	d.machine.lastError = ""
}
