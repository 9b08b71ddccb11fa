package chitu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"casefleet/agent/chitu/protocol"
)

// ErrNotConnected is returned by the MQTT commands while the MQTT link is
// down (or not yet up: it starts once the machine's ids are resolved).
var ErrNotConnected = errors.New("chitu: MQTT link is not connected")

// MQTT timings. paho retries the first connection every
// connectRetryInterval and reconnects with its own backoff, up to
// maxReconnectInterval.
const (
	connectTimeout       = 10 * time.Second
	connectRetryInterval = 5 * time.Second
	maxReconnectInterval = time.Minute
	keepAlive            = 30 * time.Second
	subscribeTimeout     = 10 * time.Second
	commandTimeout       = 10 * time.Second
	disconnectQuiesce    = 250 // milliseconds
)

// mqttLink is the MQTT side of the driver, built once the machine's ids
// are known: it listens on the machine's event topic and publishes
// commands for it.
type mqttLink struct {
	client    mqtt.Client
	topic     string
	machineID string
	queue     *eventQueue
	log       *slog.Logger
	ctx       context.Context // done when the driver closes

	mu         sync.Mutex
	connection uint64 // counts connections and losses, so a stale onConnect cannot mark a newer one subscribed
	subscribed bool
	closed     bool
	handlers   sync.WaitGroup // onConnect runs paho starts
}

func newMQTTLink(ctx context.Context, cfg Config, ids machineIDs, queue *eventQueue, log *slog.Logger) *mqttLink {
	source := ids.machineID
	if cfg.TopicSource == TopicFromDeviceID {
		source = ids.deviceID
	}
	l := &mqttLink{
		topic:     protocol.EventTopic(source),
		machineID: ids.machineID,
		queue:     queue,
		log:       log,
		ctx:       ctx,
	}
	opts := mqtt.NewClientOptions().
		AddBroker(cfg.MQTTURL).
		SetClientID("casefleet-" + cfg.MachineCode).
		SetUsername(cfg.MQTTUsername).
		SetPassword(cfg.MQTTPassword).
		SetProtocolVersion(4). // MQTT 3.1.1
		SetCleanSession(cfg.CleanSession).
		// An event is acknowledged once the consumer has applied it
		// (Event.Done), not when it is read: a kill in between must not
		// lose it from the persistent session.
		SetAutoAckDisabled(true).
		SetKeepAlive(keepAlive).
		SetConnectTimeout(connectTimeout).
		SetConnectRetry(true).
		SetConnectRetryInterval(connectRetryInterval).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(maxReconnectInterval).
		// We subscribe again on every connection ourselves, to know when
		// it is done.
		SetResumeSubs(false).
		// Messages of a persistent session may arrive before we subscribe.
		SetDefaultPublishHandler(l.onMessage).
		SetOnConnectHandler(l.onConnect).
		SetConnectionLostHandler(l.onConnectionLost).
		SetConnectionNotificationHandler(l.onNotification)
	l.client = mqtt.NewClient(opts)
	return l
}

// connect starts connecting; paho keeps retrying in the background.
func (l *mqttLink) connect() {
	l.log.Info("connecting MQTT", "topic", l.topic)
	l.client.Connect()
}

// close disconnects and waits for the handlers this link started.
func (l *mqttLink) close() {
	l.mu.Lock()
	l.closed = true
	l.subscribed = false
	l.mu.Unlock()
	l.client.Disconnect(disconnectQuiesce)
	l.handlers.Wait()
}

func (l *mqttLink) connected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.subscribed && l.client.IsConnectionOpen()
}

// onConnect runs, in its own goroutine, after every (re)connection:
// subscribe, tell the consumer events may have been missed, and ask the
// machine for its state.
func (l *mqttLink) onConnect(c mqtt.Client) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.handlers.Add(1)
	defer l.handlers.Done()
	l.connection++
	connection := l.connection
	l.mu.Unlock()

	if err := l.subscribe(c); err != nil {
		l.log.Warn("MQTT subscription abandoned", "topic", l.topic, "err", err)
		return
	}
	l.mu.Lock()
	current := l.connection == connection && !l.closed
	if current {
		l.subscribed = true
	}
	l.mu.Unlock()
	if !current {
		return
	}
	l.log.Info("MQTT connected", "topic", l.topic)
	l.queue.push(Event{Resync: true})
	if err := l.command(l.ctx, protocol.MsgMachineInfo); err != nil && l.ctx.Err() == nil {
		l.log.Warn("request machine info after connect", "err", err)
	}
}

// subscribe subscribes to the event topic, retrying while the connection
// that asked for it is open.
func (l *mqttLink) subscribe(c mqtt.Client) error {
	delay := time.Second
	for {
		err := waitToken(l.ctx, c.Subscribe(l.topic, 1, l.onMessage), subscribeTimeout)
		if err == nil {
			return nil
		}
		if l.ctx.Err() != nil || !c.IsConnectionOpen() {
			return err
		}
		l.log.Warn("MQTT subscribe failed, retrying", "topic", l.topic, "err", err, "retry_in", delay)
		select {
		case <-time.After(delay):
		case <-l.ctx.Done():
			return l.ctx.Err()
		}
		delay = min(2*delay, maxReconnectInterval)
	}
}

func (l *mqttLink) onConnectionLost(_ mqtt.Client, err error) {
	l.mu.Lock()
	l.connection++
	l.subscribed = false
	l.mu.Unlock()
	l.log.Warn("MQTT connection lost, reconnecting", "err", err)
}

func (l *mqttLink) onNotification(_ mqtt.Client, n mqtt.ConnectionNotification) {
	if f, ok := n.(mqtt.ConnectionNotificationFailed); ok {
		l.log.Warn("MQTT connection attempt failed", "err", f.Reason)
	}
}

// onMessage runs in paho's router, one message at a time, in order. It must
// not block: it parses and queues.
func (l *mqttLink) onMessage(_ mqtt.Client, msg mqtt.Message) {
	if msg.Topic() != l.topic {
		l.log.Debug("ignoring MQTT message on a foreign topic", "topic", msg.Topic())
		msg.Ack()
		return
	}
	ev, err := protocol.ParseEvent(msg.Payload())
	if err != nil {
		l.log.Warn("dropping malformed MQTT event", "topic", msg.Topic(), "err", err)
		msg.Ack()
		return
	}
	if id := eventMachineID(ev); id != "" && id != l.machineID {
		l.log.Debug("dropping MQTT event for another machine", "machine_id", id)
		msg.Ack()
		return
	}
	l.queue.push(Event{Msg: ev, ack: sync.OnceFunc(msg.Ack)})
}

// eventMachineID is the machineId an event names, if any.
func eventMachineID(ev protocol.Event) string {
	switch {
	case ev.OrderStatus != nil:
		return ev.OrderStatus.MachineID
	case ev.MachineInfo != nil:
		return ev.MachineInfo.MachineID
	case ev.CleanNozzle != nil:
		return ev.CleanNozzle.MachineID
	}
	return ""
}

// command publishes a command for this machine and waits for the broker to
// take it.
func (l *mqttLink) command(ctx context.Context, msgType string) error {
	if !l.connected() {
		return ErrNotConnected
	}
	payload, err := json.Marshal(protocol.Command{Data: protocol.CommandData{MsgType: msgType, MachineID: l.machineID}})
	if err != nil {
		return err
	}
	// QoS 0: a command is a request whose answer comes as an event, asked
	// again when it matters (machineInfo on every connection; the staff
	// see a nozzle cleaning unanswered). A QoS 1 command stays in paho's
	// store for a persistent session and is resent on reconnection, where
	// paho v1.5.1 races with itself (client.resume against the outgoing
	// writer, seen under -race).
	if err := waitToken(ctx, l.client.Publish(protocol.CommandTopic, 0, false, payload), commandTimeout); err != nil {
		return fmt.Errorf("publish %s: %w", msgType, err)
	}
	return nil
}

// waitToken waits for a paho token, ctx or timeout, whichever comes first.
func waitToken(ctx context.Context, t mqtt.Token, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("no answer from the broker in %v: %w", timeout, context.DeadlineExceeded)
	}
}
