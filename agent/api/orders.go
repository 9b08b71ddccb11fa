package api

import (
	"errors"
	"net/http"
	"time"

	"casefleet/agent/catalog"
	"casefleet/agent/queue"
)

// publicOrder is the order shape of product.md: what a customer may see.
type publicOrder struct {
	ID                   string     `json:"id"`
	SessionID            string     `json:"sessionId"`
	MachineCode          string     `json:"machineCode"`
	DeviceID             string     `json:"deviceId"`
	ImageURL             string     `json:"imageUrl"`
	ProductID            string     `json:"productId"`
	Status               string     `json:"status"`
	Stage                string     `json:"stage"`
	QueuePosition        int        `json:"queuePosition,omitempty"`
	EstimatedWaitSeconds int        `json:"estimatedWaitSeconds,omitempty"`
	CreatedAt            time.Time  `json:"createdAt"`
	StartedAt            *time.Time `json:"startedAt,omitempty"`
	CompletedAt          *time.Time `json:"completedAt,omitempty"`
	FailureReason        string     `json:"failureReason,omitempty"`
	PickupCode           string     `json:"pickupCode,omitempty"`
	CancelledBy          string     `json:"cancelledBy,omitempty"` // "customer" or "staff"
}

func toPublicOrder(o queue.Order) publicOrder {
	return publicOrder{
		ID: o.ID, SessionID: o.SessionID, MachineCode: o.MachineCode, DeviceID: o.DeviceID,
		ImageURL: o.ImageURL, ProductID: o.ProductID, Status: string(o.Status), Stage: string(o.Stage),
		QueuePosition: o.QueuePosition, EstimatedWaitSeconds: o.EstimatedWaitSeconds,
		CreatedAt: o.CreatedAt, StartedAt: o.StartedAt, CompletedAt: o.CompletedAt,
		FailureReason: o.FailureReason, PickupCode: o.PickupCode, CancelledBy: o.CancelledBy,
	}
}

// publicModel is one phone model as the editor needs it.
type publicModel struct {
	ProductID string `json:"productId"`
	Name      string `json:"name"`
	NameCN    string `json:"nameCn,omitempty"`
	ShowImg   string `json:"showImg"`
	PrintImg  string `json:"printImg"`
	Price     string `json:"price,omitempty"`
	Stock     string `json:"stock,omitempty"`
}

type publicBrand struct {
	ID     string        `json:"id"`
	Name   string        `json:"name"`
	NameCN string        `json:"nameCn,omitempty"`
	Models []publicModel `json:"models"`
}

func (s *Server) products(w http.ResponseWriter, r *http.Request) error {
	brands, err := s.opt.Catalog.Brands(r.Context())
	if err != nil {
		s.log.Warn("catalogue unavailable", "err", err)
		return newError(http.StatusServiceUnavailable, "machine_offline", "The machine's catalogue cannot be read right now. Please try again shortly.").after(30 * time.Second)
	}
	out := make([]publicBrand, 0, len(brands))
	for _, b := range brands {
		pb := publicBrand{ID: b.ID.String(), Name: b.NameEN, NameCN: b.NameCN, Models: []publicModel{}}
		if pb.Name == "" {
			pb.Name = b.NameCN
		}
		for _, m := range b.ModelList {
			pm := publicModel{ProductID: m.Product(), Name: m.NameEN, NameCN: m.NameCN, ShowImg: m.ShowImg,
				PrintImg: m.PrintImg, Price: m.Price.String(), Stock: m.Stock.String()}
			if pm.Name == "" {
				pm.Name = m.NameCN
			}
			pb.Models = append(pb.Models, pm)
		}
		out = append(out, pb)
	}
	writeJSON(w, http.StatusOK, map[string]any{"machineCode": s.opt.MachineCode, "brands": out})
	return nil
}

// ownOrder loads an order and checks that the request's session owns it.
func (s *Server) ownOrder(r *http.Request) (queue.Order, error) {
	sess, err := s.sessionOf(r, "")
	if err != nil {
		return queue.Order{}, err
	}
	id := r.PathValue("order")
	if len(id) > 64 {
		return queue.Order{}, newError(http.StatusBadRequest, "bad_order_id", "That is not an order id.")
	}
	o, err := s.opt.Queue.Get(id)
	switch {
	case errors.Is(err, queue.ErrNotFound), errors.Is(err, queue.ErrInvalid):
		return queue.Order{}, newError(http.StatusNotFound, "unknown_order", "There is no such order on this machine.")
	case err != nil:
		return queue.Order{}, err
	}
	if o.SessionID != sess.SessionID {
		return queue.Order{}, errNotYours
	}
	return o, nil
}

var errNotYours = newError(http.StatusForbidden, "not_your_order", "This order belongs to someone else.")

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) error {
	o, err := s.ownOrder(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toPublicOrder(o))
	return nil
}

func (s *Server) cancelOrder(w http.ResponseWriter, r *http.Request) error {
	o, err := s.ownOrder(r)
	if err != nil {
		return err
	}
	o, err = s.opt.Queue.Cancel(o.ID, o.SessionID)
	switch {
	case errors.Is(err, queue.ErrNotCancellable), errors.Is(err, queue.ErrFinished):
		return newError(http.StatusConflict, "not_cancellable", "This order has already gone to the printer and can no longer be cancelled here.")
	case errors.Is(err, queue.ErrNotOwner):
		return errNotYours
	case err != nil:
		return err
	}
	s.log.Info("order cancelled by its customer", "order", o.ID, "session", o.SessionID)
	writeJSON(w, http.StatusOK, toPublicOrder(o))
	return nil
}

// isUnknownProduct maps catalogue errors for the print handler.
func isUnknownProduct(err error) bool { return errors.Is(err, catalog.ErrUnknownProduct) }
