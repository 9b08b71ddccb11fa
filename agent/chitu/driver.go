package chitu

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"casefleet/agent/chitu/protocol"
)

// eventsBuffer is the capacity of the Events channel; the internal queue
// behind it absorbs bursts beyond that.
const eventsBuffer = 256

// Resolution retry backoff while the platform is unreachable.
const (
	resolveMinBackoff = time.Second
	resolveMaxBackoff = time.Minute
)

// Driver is the real Link to a Chitu printer through the vendor's cloud.
type Driver struct {
	code   string // the machine code, as configured
	cfg    Config
	log    *slog.Logger
	api    *openAPI
	queue  *eventQueue
	events chan Event

	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the background goroutines
	closing sync.Once

	mu       sync.Mutex
	ids      machineIDs    // zero until resolved
	resolved chan struct{} // closed when ids are first known
	link     *mqttLink     // nil until ids are known
	closed   bool
}

var _ Link = (*Driver)(nil)

// Dial checks cfg and starts the link. It returns at once, without waiting
// for the open API or the broker, so the agent starts while the internet
// is out: in the background the driver resolves the machine's ids
// (retrying with backoff) and then connects MQTT. ctx only bounds Dial
// itself; the link lives until Close.
func Dial(ctx context.Context, cfg Config) (*Driver, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := newDriver(cfg)
	if err != nil {
		return nil, err
	}
	d.wg.Add(2)
	go d.run()
	go d.pump()
	return d, nil
}

// newDriver checks cfg and builds a driver whose background work has not
// started.
func newDriver(cfg Config) (*Driver, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("chitu config: %w", err)
	}
	log := cfg.Logger.With("machine", cfg.MachineCode)
	ctx, cancel := context.WithCancel(context.Background())
	return &Driver{
		code:     cfg.MachineCode,
		cfg:      cfg,
		log:      log,
		api:      newOpenAPI(cfg),
		queue:    newEventQueue(log),
		events:   make(chan Event, eventsBuffer),
		ctx:      ctx,
		cancel:   cancel,
		resolved: make(chan struct{}),
	}, nil
}

// run resolves the machine's ids, then starts MQTT.
func (d *Driver) run() {
	defer d.wg.Done()
	ids, ok := d.resolveUntilDone()
	if !ok {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.link = newMQTTLink(d.ctx, d.cfg, ids, d.queue, d.log)
	d.link.connect()
}

// resolveUntilDone retries resolution with backoff until it succeeds (here
// or in a caller's on-demand resolution) or the driver closes.
func (d *Driver) resolveUntilDone() (machineIDs, bool) {
	delay := resolveMinBackoff
	for {
		if ids, ok := d.cachedIDs(); ok {
			return ids, true
		}
		ids, err := d.resolve(d.ctx)
		if err == nil {
			return ids, true
		}
		if d.ctx.Err() != nil {
			return machineIDs{}, false
		}
		// Jitter spreads a fleet's retries after a shared outage.
		wait := delay/2 + rand.N(delay)
		d.log.Warn("cannot resolve machine yet, will retry", "err", err, "retry_in", wait.Round(time.Millisecond))
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-d.resolved:
			timer.Stop()
		case <-d.ctx.Done():
			timer.Stop()
			return machineIDs{}, false
		}
		delay = min(2*delay, resolveMaxBackoff)
	}
}

// pump moves events from the queue to the Events channel, and closes that
// channel when the driver closes. It is the channel's only sender.
func (d *Driver) pump() {
	defer d.wg.Done()
	defer close(d.events)
	for {
		ev, ok := d.queue.pop()
		if !ok {
			select {
			case <-d.queue.ready:
				continue
			case <-d.ctx.Done():
				return
			}
		}
		select {
		case d.events <- ev:
		case <-d.ctx.Done():
			return
		}
	}
}

// Events delivers the machine's MQTT events in order, and a Resync event
// after every MQTT (re)connection. It is closed by Close.
func (d *Driver) Events() <-chan Event { return d.events }

// MQTTConnected reports whether the MQTT link is up and subscribed.
func (d *Driver) MQTTConnected() bool {
	link := d.mqtt()
	return link != nil && link.connected()
}

// RequestMachineInfo publishes a machineInfo command; the answer arrives
// on Events. It fails with ErrNotConnected while MQTT is down.
func (d *Driver) RequestMachineInfo(ctx context.Context) error {
	return d.command(ctx, protocol.MsgMachineInfo)
}

// CleanNozzle publishes a cleanNozzle command; the result arrives on
// Events. It fails with ErrNotConnected while MQTT is down.
func (d *Driver) CleanNozzle(ctx context.Context) error {
	return d.command(ctx, protocol.MsgCleanNozzle)
}

func (d *Driver) command(ctx context.Context, msgType string) error {
	link := d.mqtt()
	if link == nil {
		return fmt.Errorf("%s for %s: %w", msgType, d.code, ErrNotConnected)
	}
	if err := link.command(ctx, msgType); err != nil {
		return fmt.Errorf("%s for %s: %w", msgType, d.code, err)
	}
	return nil
}

func (d *Driver) mqtt() *mqttLink {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.link
}

// Close disconnects MQTT, stops the background work and closes Events.
// It is safe to call more than once.
func (d *Driver) Close() error {
	d.closing.Do(func() {
		d.cancel()
		d.mu.Lock()
		d.closed = true
		link := d.link
		d.mu.Unlock()
		if link != nil {
			link.close()
		}
		d.queue.close()
		d.wg.Wait()
		d.log.Info("chitu link closed")
	})
	return nil
}
