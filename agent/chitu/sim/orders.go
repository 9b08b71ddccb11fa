package sim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"casefleet/agent/chitu/protocol"
)

// OrderAborted is the sim's own status for an order lost at the machine
// (switched off mid-order). The platform never publishes it: the order
// simply falls silent, as on a real printer.
const OrderAborted = "aborted"

// Refusals of machineCreateOrder, answered as the platform does.
var (
	errMachineBusy    = errors.New("设备忙")
	errMachineOffline = errors.New("设备离线")
	errSimClosed      = errors.New("系统繁忙")
)

// order is an order the sim accepted. Guarded by Sim.mu.
type order struct {
	id        string
	no        string
	machine   *simMachine
	product   phoneModel
	payType   string
	imageURL  string
	status    string
	payStatus string
	reason    string
	created   time.Time
	updated   time.Time
	fetch     FetchReport
	history   []OrderStep

	paid        bool // the customer paid (status may still be pending)
	fileReady   bool // the print file was fetched and is valid
	cancelFetch context.CancelFunc
	stop        func() bool // stops the pending pay or print timer
}

// OrderStep is one status change of an order.
type OrderStep struct {
	At        time.Time `json:"at"`
	Status    string    `json:"status"`
	PayStatus string    `json:"payStatus"`
	Note      string    `json:"note,omitempty"`
	// Published says whether an orderStatus event went out (nothing is
	// published for a machine that is offline or for an aborted order).
	Published bool `json:"published"`
}

// OrderView is an order as the admin API shows it.
type OrderView struct {
	ID        string      `json:"id"`
	OrderNo   string      `json:"orderNo"`
	Machine   string      `json:"machine"`
	DeviceID  string      `json:"device_id"`
	MachineID string      `json:"machineId"`
	ProductID string      `json:"productId"`
	PayType   string      `json:"payType"`
	ImageURL  string      `json:"imageUrl"`
	Amount    string      `json:"amount"`
	Status    string      `json:"status"`
	PayStatus string      `json:"payStatus"`
	Reason    string      `json:"reason,omitempty"`
	CreatedAt time.Time   `json:"createdAt"`
	UpdatedAt time.Time   `json:"updatedAt"`
	Fetch     FetchReport `json:"fetch"`
	History   []OrderStep `json:"history"`
}

func (o *order) view() OrderView {
	return OrderView{
		ID:        o.id,
		OrderNo:   o.no,
		Machine:   o.machine.code,
		DeviceID:  o.machine.deviceID,
		MachineID: o.machine.machineID,
		ProductID: o.product.productID,
		PayType:   o.payType,
		ImageURL:  o.imageURL,
		Amount:    o.product.price,
		Status:    o.status,
		PayStatus: o.payStatus,
		Reason:    o.reason,
		CreatedAt: o.created,
		UpdatedAt: o.updated,
		Fetch:     o.fetch,
		History:   append([]OrderStep(nil), o.history...),
	}
}

func (o *order) inProgress() bool {
	switch o.status {
	case protocol.OrderPending, protocol.OrderPaid, protocol.OrderPrinting:
		return true
	}
	return false
}

func (o *order) stopTimer() {
	if o.stop != nil {
		o.stop()
		o.stop = nil
	}
}

// createOrder takes an order on m, as machineCreateOrder does, and starts
// the machine on it: fetch the print file (after the fetch delay), wait for
// payment, print.
func (s *Sim) createOrder(m *simMachine, p phoneModel, payType, imageURL string) (*order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, errSimClosed
	case !m.online:
		return nil, errMachineOffline
	case m.current != nil:
		return nil, errMachineBusy
	}
	now := s.clock.Now()
	s.orderSeq++
	// Numeric-looking and unique across restarts of the sim; the last four
	// digits (the customer's pickup code) count up.
	id := fmt.Sprintf("%s%04d", now.Format("20060102150405"), s.orderSeq%10000)
	o := &order{
		id:       id,
		no:       "SN" + id,
		machine:  m,
		product:  p,
		payType:  payType,
		imageURL: imageURL,
		created:  now,
	}
	s.orders = append(s.orders, o)
	s.byOrderID[id] = o
	m.current = o
	s.log.Info("order created", "machine", m.code, "order", id, "product", p.productID, "image_url", imageURL)
	s.stepLocked(o, protocol.OrderPending, protocol.PayUnpaid, "order created")

	ctx, cancel := context.WithCancel(s.ctx)
	o.cancelFetch = cancel
	s.fetching.Add(1)
	delay := s.fetchDelay
	go func() {
		defer s.fetching.Done()
		if sleep(ctx, s.clock, delay) != nil {
			return // order lost at the machine before the fetch, or the sim is closing
		}
		report := s.fetchPrintFile(ctx, o)
		if ctx.Err() != nil {
			return // order lost at the machine, or the sim is closing
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.printFileFetchedLocked(o, report)
	}()
	return o, nil
}

// printFileFetchedLocked moves o on once the machine has tried to fetch its
// print file: a bad file fails the order; a good one puts the machine on
// the payment screen.
func (s *Sim) printFileFetchedLocked(o *order, report FetchReport) {
	if !o.inProgress() {
		return // failed or aborted meanwhile
	}
	o.fetch = report
	if !report.OK {
		s.failLocked(o, "print file: "+report.Error)
		return
	}
	o.fileReady = true
	if !o.paid {
		s.schedulePayLocked(o)
	}
	s.advanceLocked(o)
}

// schedulePayLocked lets the customer pay after the configured delay; a
// negative delay leaves payment to the admin API.
func (s *Sim) schedulePayLocked(o *order) {
	switch {
	case s.payDelay < 0:
		return
	case s.payDelay == 0:
		s.payLocked(o, "paid at the machine")
		return
	}
	o.stopTimer()
	o.stop = s.clock.AfterFunc(s.payDelay, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if o.status == protocol.OrderPending && !o.paid {
			s.payLocked(o, "paid at the machine")
		}
	})
}

// payLocked records the customer's payment.
func (s *Sim) payLocked(o *order, note string) error {
	if o.status != protocol.OrderPending || o.paid {
		return fmt.Errorf("%w: order %s is %s", errConflict, o.id, o.status)
	}
	o.stopTimer()
	o.paid = true
	s.stepLocked(o, protocol.OrderPaid, protocol.PayPaid, note)
	s.advanceLocked(o)
	return nil
}

// advanceLocked starts printing once the order is paid and the file is in.
func (s *Sim) advanceLocked(o *order) {
	if o.status != protocol.OrderPaid || !o.fileReady {
		return
	}
	s.stepLocked(o, protocol.OrderPrinting, protocol.PayPaid, "printing")
	if s.printTime == 0 {
		s.completeLocked(o)
		return
	}
	o.stopTimer()
	o.stop = s.clock.AfterFunc(s.printTime, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if o.status == protocol.OrderPrinting {
			s.completeLocked(o)
		}
	})
}

func (s *Sim) completeLocked(o *order) {
	s.stepLocked(o, protocol.OrderCompleted, protocol.PayPaid, "printed")
	s.releaseLocked(o)
	s.log.Info("order completed", "machine", o.machine.code, "order", o.id)
}

// failLocked fails an order in progress, refunding the customer if they
// paid.
func (s *Sim) failLocked(o *order, reason string) error {
	if !o.inProgress() {
		return fmt.Errorf("%w: order %s is %s", errConflict, o.id, o.status)
	}
	pay := protocol.PayUnpaid
	if o.paid {
		pay = protocol.PayRefunded
	}
	o.reason = reason
	s.stepLocked(o, protocol.OrderFailed, pay, reason)
	s.releaseLocked(o)
	s.log.Warn("order failed", "machine", o.machine.code, "order", o.id, "reason", reason)
	return nil
}

// abortLocked loses an order at the machine without a word.
func (s *Sim) abortLocked(o *order, reason string) {
	o.reason = reason
	s.stepLocked(o, OrderAborted, o.payStatus, reason)
	s.releaseLocked(o)
	s.log.Warn("order lost at the machine", "machine", o.machine.code, "order", o.id, "reason", reason)
}

// releaseLocked frees the machine for its next order.
func (s *Sim) releaseLocked(o *order) {
	o.stopTimer()
	if o.cancelFetch != nil {
		o.cancelFetch()
	}
	if o.machine.current == o {
		o.machine.current = nil
	}
}

// stepLocked moves o to a status and publishes it if the machine is online.
func (s *Sim) stepLocked(o *order, status, payStatus, note string) {
	now := s.clock.Now()
	o.status, o.payStatus, o.updated = status, payStatus, now
	published := false
	if status != OrderAborted && o.machine.online {
		published = s.publishLocked(o.machine, protocol.OrderStatus{
			MsgType:   protocol.MsgOrderStatus,
			OrderID:   protocol.Text(o.id),
			OrderNo:   o.no,
			MachineID: o.machine.machineID,
			Status:    status,
			PayStatus: payStatus,
			PayType:   o.payType,
			Amount:    protocol.Text(o.product.price),
			Timestamp: now.UnixMilli(),
		})
	}
	o.history = append(o.history, OrderStep{At: now, Status: status, PayStatus: payStatus, Note: note, Published: published})
}

// payOrder is the admin API's "the customer paid".
func (s *Sim) payOrder(id string) (OrderView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.byOrderID[id]
	if o == nil {
		return OrderView{}, fmt.Errorf("%w: %s", errUnknownOrder, id)
	}
	if err := s.payLocked(o, "paid (admin)"); err != nil {
		return OrderView{}, err
	}
	return o.view(), nil
}

// failOrder is the admin API's "the machine failed this order".
func (s *Sim) failOrder(id, reason string) (OrderView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.byOrderID[id]
	if o == nil {
		return OrderView{}, fmt.Errorf("%w: %s", errUnknownOrder, id)
	}
	if reason == "" {
		reason = "failed by the operator"
	}
	if err := s.failLocked(o, reason); err != nil {
		return OrderView{}, err
	}
	return o.view(), nil
}

// orderViews lists the accepted orders, oldest first, optionally only those
// of one machine.
func (s *Sim) orderViews(code string) []OrderView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]OrderView, 0, len(s.orders))
	for _, o := range s.orders {
		if code == "" || o.machine.code == code {
			out = append(out, o.view())
		}
	}
	return out
}
