package queue

import (
	"fmt"
	"time"

	randid "casefleet/agent/internal/ids"
)

// Status is an order's coarse state, the one customers' apps switch on.
type Status string

const (
	StatusQueued    Status = "queued"
	StatusPrinting  Status = "printing"
	StatusComplete  Status = "complete"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Terminal reports whether an order in this status is finished for good.
func (s Status) Terminal() bool {
	return s == StatusComplete || s == StatusFailed || s == StatusCancelled
}

func (s Status) valid() bool {
	switch s {
	case StatusQueued, StatusPrinting, StatusComplete, StatusFailed, StatusCancelled:
		return true
	}
	return false
}

// Stage is an order's finer step at the vendor, shown to customers and
// operators.
type Stage string

const (
	StageQueued          Stage = "queued" // waiting in line; only these can be cancelled by the customer
	StageSending         Stage = "sending"
	StageSent            Stage = "sent"
	StageAwaitingPayment Stage = "awaiting_payment"
	StagePaid            Stage = "paid"
	StagePrinting        Stage = "printing"
	// StageUnknownOutcome: the order may or may not have reached the
	// machine, or may or may not have printed, and nothing tells which (a
	// send cut short with no sign after it, a machine silent on a paid
	// order). It is never sent again nor failed by itself: it leaves the
	// line, the staff decide (Retry, Cancel, Mark printed), and a late word
	// from the machine settles it.
	StageUnknownOutcome Stage = "unknown_outcome"
	StageComplete       Stage = "complete"
	StageFailed         Stage = "failed"
	StageCancelled      Stage = "cancelled"
)

// Terminal reports whether an order at this stage is finished for good.
func (s Stage) Terminal() bool {
	return s == StageComplete || s == StageFailed || s == StageCancelled
}

func (s Stage) valid() bool {
	switch s {
	case StageQueued, StageSending, StageSent, StageAwaitingPayment, StagePaid,
		StagePrinting, StageUnknownOutcome, StageComplete, StageFailed, StageCancelled:
		return true
	}
	return false
}

// Who cancelled an order (Order.CancelledBy): the customer is told
// differently when the staff did.
const (
	CancelledByCustomer = "customer"
	CancelledByStaff    = "staff"
)

// Order is one customer's print job.
type Order struct {
	ID          string `json:"id"` // NewID: random, unguessable
	SessionID   string `json:"sessionId"`
	MachineCode string `json:"machineCode"`
	DeviceID    string `json:"deviceId"`
	ImageURL    string `json:"imageUrl"`
	ProductID   string `json:"productId"`
	Status      Status `json:"status"`
	Stage       Stage  `json:"stage"`
	// QueuePosition and EstimatedWaitSeconds are computed on read, never
	// stored; they are zero unless the order waits in line (Stage queued).
	// See the estimate section of estimate.go.
	QueuePosition        int        `json:"queuePosition,omitempty"`
	EstimatedWaitSeconds int        `json:"estimatedWaitSeconds,omitempty"`
	CreatedAt            time.Time  `json:"createdAt"`
	StartedAt            *time.Time `json:"startedAt,omitempty"`
	CompletedAt          *time.Time `json:"completedAt,omitempty"`
	FailureReason        string     `json:"failureReason,omitempty"`
	PickupCode           string     `json:"pickupCode,omitempty"`  // last 4 chars of the vendor order id
	CancelledBy          string     `json:"cancelledBy,omitempty"` // CancelledByCustomer or CancelledByStaff

	// Internal bookkeeping; the API layer decides what to show.

	// Seq is the FIFO key, assigned by Enqueue and never changed: an order
	// put back in line (retried) keeps it and so is at the head again.
	Seq           uint64     `json:"seq"`
	VendorOrderID string     `json:"vendorOrderId,omitempty"`
	PrintFile     string     `json:"printFile,omitempty"` // token of the print file
	Attempts      int        `json:"attempts"`
	SentAt        *time.Time `json:"sentAt,omitempty"`
	FetchedAt     *time.Time `json:"fetchedAt,omitempty"` // when the machine fetched the print file
	UpdatedAt     time.Time  `json:"updatedAt"`

	// IdempotencyKey is the key the customer's page sent with the order
	// (POST .../print's Idempotency-Key), unique per session: a retry with
	// it finds this order instead of making another. RequestHash is what
	// the request asked for, so that a reused key with another request is
	// told apart from a retry.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	RequestHash    string `json:"requestHash,omitempty"`
}

// Waiting reports whether the order waits in line: not finished and not yet
// handed to the machine.
func (o Order) Waiting() bool { return !o.Status.Terminal() && o.Stage == StageQueued }

// AtMachine reports whether the order is the machine's business now:
// handed to it, not finished, and not of unknown outcome (which waits for
// the staff, out of the line).
func (o Order) AtMachine() bool {
	return !o.Status.Terminal() && o.Stage != StageQueued && o.Stage != StageUnknownOutcome
}

// Unknown reports whether nobody knows whether the order printed.
func (o Order) Unknown() bool { return !o.Status.Terminal() && o.Stage == StageUnknownOutcome }

// NewID returns a fresh random order id.
func NewID() string { return randid.New() }

// ValidID reports whether s has the form NewID produces.
func ValidID(s string) bool { return randid.Valid(s) }

// maxField bounds every string field, so an oversized value from a client
// or the vendor cannot bloat the store or exceed bbolt's key size limit.
const maxField = 4096

// validate checks the rules every stored order keeps.
func (o Order) validate() error {
	if !ValidID(o.ID) {
		return fmt.Errorf("%w: malformed id %.40q", ErrInvalid, o.ID)
	}
	if !o.Status.valid() {
		return fmt.Errorf("%w: unknown status %.40q", ErrInvalid, o.Status)
	}
	if !o.Stage.valid() {
		return fmt.Errorf("%w: unknown stage %.40q", ErrInvalid, o.Stage)
	}
	if o.Status.Terminal() != o.Stage.Terminal() {
		return fmt.Errorf("%w: status %s does not go with stage %s", ErrInvalid, o.Status, o.Stage)
	}
	if o.Seq == 0 {
		return fmt.Errorf("%w: no sequence number", ErrInvalid)
	}
	fields := [...]struct{ name, value string }{
		{"sessionId", o.SessionID}, {"machineCode", o.MachineCode}, {"deviceId", o.DeviceID},
		{"imageUrl", o.ImageURL}, {"productId", o.ProductID}, {"failureReason", o.FailureReason},
		{"pickupCode", o.PickupCode}, {"vendorOrderId", o.VendorOrderID}, {"printFile", o.PrintFile},
		{"idempotencyKey", o.IdempotencyKey}, {"requestHash", o.RequestHash}, {"cancelledBy", o.CancelledBy},
	}
	for _, f := range fields {
		if len(f.value) > maxField {
			return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalid, f.name, maxField)
		}
	}
	for i := 0; i < len(o.SessionID); i++ {
		if o.SessionID[i] == 0 { // the session index separates with NUL
			return fmt.Errorf("%w: NUL in sessionId", ErrInvalid)
		}
	}
	if o.IdempotencyKey != "" && o.SessionID == "" {
		return fmt.Errorf("%w: an idempotency key needs a session", ErrInvalid)
	}
	return nil
}

// checkChange rejects changes to the fields that identify an order and key
// its indexes for life.
func checkChange(old, new Order) error {
	switch {
	case new.ID != old.ID:
		return fmt.Errorf("%w: id cannot change", ErrInvalid)
	case new.Seq != old.Seq:
		return fmt.Errorf("%w: seq cannot change", ErrInvalid)
	case new.SessionID != old.SessionID:
		return fmt.Errorf("%w: sessionId cannot change", ErrInvalid)
	case !new.CreatedAt.Equal(old.CreatedAt):
		return fmt.Errorf("%w: createdAt cannot change", ErrInvalid)
	case new.IdempotencyKey != old.IdempotencyKey || new.RequestHash != old.RequestHash:
		return fmt.Errorf("%w: the idempotency key and request cannot change", ErrInvalid)
	}
	return nil
}
