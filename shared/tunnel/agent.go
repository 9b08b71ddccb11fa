package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"casefleet/shared/machine"
)

// Defaults of AgentConfig.
const (
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	// downBackoff caps the delays while the relay does not answer: an
	// agent is back within 2 s of the relay however long it was away
	// (1,000 agents then try about 700 times a second against a relay
	// that is down: cheap refusals).
	downBackoff = 2 * time.Second
)

// AgentConfig configures RunAgent.
type AgentConfig struct {
	// RelayURL is the relay's base URL: https://..., or http://... to a
	// relay on this machine only.
	RelayURL    string
	MachineCode string
	Token       string // enrollment token (see package enroll)
	Version     string // of the agent, announced to the relay

	// Handler serves every request the relay forwards, WebSocket upgrades
	// included. Requests' RemoteAddr is the tunnel's; the customer's
	// address is in the X-Forwarded-For header the relay adds.
	Handler http.Handler
	Logger  *slog.Logger // nil means slog.Default()

	// Reconnection delays: exponential from MinBackoff up to MaxBackoff,
	// each drawn from the upper half of its step so that a fleet cut off
	// together comes back spread out; back to MinBackoff at every
	// successful handshake. Defaults DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration

	// KeepAlive is the ping interval; a dead or half-open link is noticed
	// within two intervals. DefaultKeepAlive if zero.
	KeepAlive time.Duration

	// OnState, if set, is called on every change of the tunnel's state,
	// and after every failed attempt while it is down. It is called from
	// RunAgent's goroutine: it must return quickly.
	OnState func(State)

	// RelayClient, if set, sends the agent's own requests to the relay
	// over each tunnel while it is up (see NewRelayClient).
	RelayClient *RelayClient

	older olderEnd // see linkConfig; for tests
}

// State is the tunnel's state as the agent sees it.
type State struct {
	Connected bool
	PublicURL string    // announced by the relay while connected; may be empty
	Err       error     // why the tunnel is down (the latest failure)
	Since     time.Time // when the tunnel came up, or went down
	// Rejected means the relay refused this agent (bad, expired or revoked
	// token, say): the reason is in Err, a *RefusedError, and retrying
	// will not help until the configuration changes.
	Rejected bool
}

// RunAgent keeps the tunnel to the relay up and serves cfg.Handler on it
// until ctx is done, then returns nil. Network errors and refusals never
// end it: it waits (backing off, up to MaxBackoff after a refusal) and
// dials again. It returns an error at once only if cfg is unusable.
func RunAgent(ctx context.Context, cfg AgentConfig) error {
	a, err := newAgent(cfg)
	if err != nil {
		return err
	}
	a.run(ctx)
	return nil
}

// agent is one RunAgent: the checked configuration and the loop's state.
type agent struct {
	cfg      AgentConfig
	endpoint string // the relay's agent endpoint URL
	logger   *slog.Logger
	backoff  backoff
}

func newAgent(cfg AgentConfig) (*agent, error) {
	endpoint, err := connectURL(cfg.RelayURL)
	if err != nil {
		return nil, fmt.Errorf("tunnel agent: %w", err)
	}
	if err := machine.ValidateCode(cfg.MachineCode); err != nil {
		return nil, fmt.Errorf("tunnel agent: %w", err)
	}
	if cfg.Token == "" {
		return nil, errors.New("tunnel agent: no enrollment token: set relay.token to the token issued for this machine")
	}
	if !isHeaderSafe(cfg.Token) || !isHeaderSafe(cfg.Version) {
		return nil, errors.New("tunnel agent: the token and version must be printable ASCII without spaces")
	}
	if cfg.Handler == nil {
		return nil, errors.New("tunnel agent: no Handler")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		return nil, fmt.Errorf("tunnel agent: MaxBackoff %v is below MinBackoff %v", cfg.MaxBackoff, cfg.MinBackoff)
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	return &agent{
		cfg:      cfg,
		endpoint: endpoint,
		logger:   cfg.Logger.With("machine", cfg.MachineCode),
		backoff:  backoff{min: cfg.MinBackoff, max: cfg.MaxBackoff, down: downBackoff},
	}, nil
}

// run is the reconnect loop.
func (a *agent) run(ctx context.Context) {
	downSince := time.Now()
	for {
		var upSince time.Time
		err := a.connect(ctx, func(publicURL string) {
			upSince = time.Now()
			// The relay took us: it is healthy now, so the next outage
			// starts again from the shortest delay. Waiting for the link to
			// hold a while first let the delay grow across a relay's
			// repeated restarts, keeping kiosks away long after it was back.
			a.backoff.reset()
			a.logger.Info("tunnel up", "relay", a.cfg.RelayURL, "public_url", publicURL)
			a.report(State{Connected: true, PublicURL: publicURL, Since: upSince})
		})
		if ctx.Err() != nil {
			if !upSince.IsZero() {
				a.report(State{Err: ctx.Err(), Since: time.Now()})
			}
			return
		}

		if !upSince.IsZero() {
			downSince = time.Now()
		}
		var refused *RefusedError
		rejected := errors.As(err, &refused) && refused.permanent()
		var delay time.Duration
		switch {
		case rejected && refused.Code == CodeAlreadyConnected:
			// Not this agent's configuration that is wrong, but there are
			// two of it: say so plainly, and keep out of the other's way.
			delay = a.backoff.longest()
			a.logger.Error("relay refused the tunnel: another agent is connected as this machine with its token "+
				"(a copy of this kiosk's disk, or a leaked token?); stop the other one, or revoke the token and enroll this kiosk again",
				"err", err, "code", refused.Code, "retry_in", delay)
		case rejected:
			delay = a.backoff.longest()
			a.logger.Error("relay refused the tunnel", "err", err, "code", refused.Code, "retry_in", delay)
		default:
			delay = a.backoff.next()
			a.logger.Warn("tunnel down", "err", err, "retry_in", delay)
		}
		a.report(State{Err: err, Since: downSince, Rejected: rejected})

		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// isHeaderSafe reports whether s can go into a header as it is.
func isHeaderSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func (a *agent) report(s State) {
	if a.cfg.OnState != nil {
		a.cfg.OnState(s)
	}
}
