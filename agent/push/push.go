package push

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.etcd.io/bbolt"

	"casefleet/agent/queue"
	"casefleet/agent/session"
)

// Options wire a Service to the agent.
type Options struct {
	DB       *bbolt.DB      // the agent's bbolt file: subscriptions and the VAPID key live here
	Queue    *queue.Queue   // whose events say when to notify
	Sessions *session.Store // who may subscribe

	MachineCode string
	MachineName string // where the customer collects the case, as notices say

	// Subject is the VAPID contact push services may use to reach the
	// fleet's operator: a mailto: or https: URL. Default DefaultSubject.
	Subject string
	// AllowedHosts are where endpoints may point (see CheckEndpoint);
	// default DefaultPushServices.
	AllowedHosts []string
	// Client sends the notices; default: 15 s timeout, no redirects.
	Client *http.Client
	// MaxSubscriptions caps the stored subscriptions; default 5000.
	MaxSubscriptions int
	// RetryDelay is the first pause before sending again after a
	// temporary failure (429, 5xx, no answer); default 1 s.
	RetryDelay time.Duration

	Logger *slog.Logger
	Now    func() time.Time // default time.Now; for tests
}

// DefaultSubject is the VAPID contact when Options.Subject is empty.
const DefaultSubject = "mailto:push@casefleet.invalid"

// Service keeps the subscriptions and sends the notices.
type Service struct {
	opt   Options
	log   *slog.Logger
	store *store
	key   *vapidKey
}

// New opens the push store in opt.DB, creating the VAPID key the first
// time.
func New(opt Options) (*Service, error) {
	if opt.DB == nil || opt.Queue == nil || opt.Sessions == nil {
		return nil, errors.New("push: DB, Queue and Sessions are required")
	}
	if opt.Subject == "" {
		opt.Subject = DefaultSubject
	}
	if opt.AllowedHosts == nil {
		opt.AllowedHosts = DefaultPushServices()
	}
	if opt.Client == nil {
		opt.Client = &http.Client{
			Timeout: 15 * time.Second,
			// A push service answers; it does not send us elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opt.MaxSubscriptions <= 0 {
		opt.MaxSubscriptions = 5000
	}
	if opt.RetryDelay <= 0 {
		opt.RetryDelay = time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	st, err := openStore(opt.DB, opt.MaxSubscriptions)
	if err != nil {
		return nil, err
	}
	key, err := st.vapidKey()
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	return &Service{opt: opt, log: opt.Logger.With("machine", opt.MachineCode, "component", "push"), store: st, key: key}, nil
}

// PublicKey is the VAPID public key (base64url of the uncompressed P-256
// point): the web app's applicationServerKey.
func (s *Service) PublicKey() string { return s.key.public }
