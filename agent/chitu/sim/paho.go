package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"casefleet/agent/chitu/protocol"
)

// ConnectMQTT publishes the sim's events through an external broker at
// brokerURL (tcp://, ssl://, ws:// or wss://) instead of an embedded one,
// logging in with the app id and the MQTT password. It returns once
// connected and subscribed to the command topic, or when ctx ends; after
// that the connection reconnects by itself until Close.
func (s *Sim) ConnectMQTT(ctx context.Context, brokerURL string) error {
	if err := s.claimMQTT(); err != nil {
		return fmt.Errorf("connect MQTT: %w", err)
	}
	var once sync.Once
	subscribed := make(chan error, 1)
	opts := paho.NewClientOptions().
		AddBroker(brokerURL).
		SetClientID("chitusim-" + randomHex(6)).
		SetUsername(s.appID).
		SetPassword(s.mqttPass).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(5 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			s.log.Warn("MQTT connection lost", "broker", brokerURL, "err", err)
		}).
		SetOnConnectHandler(func(c paho.Client) {
			// A clean session forgets subscriptions: renew on every connect.
			tok := c.Subscribe(protocol.CommandTopic, 1, func(_ paho.Client, msg paho.Message) {
				s.handleCommand(msg.Payload())
			})
			tok.Wait()
			if err := tok.Error(); err != nil {
				s.log.Error("subscribe to commands", "topic", protocol.CommandTopic, "err", err)
			} else {
				s.log.Info("MQTT connected", "broker", brokerURL)
			}
			once.Do(func() { subscribed <- tok.Error() })
		})
	client := paho.NewClient(opts)
	if err := connectAndSubscribe(ctx, client, subscribed); err != nil {
		s.unclaimMQTT()
		return fmt.Errorf("connect MQTT %s: %w", brokerURL, err)
	}
	return s.attach(&pahoPublisher{client: client, log: s.log})
}

// connectAndSubscribe connects client and waits for its first subscription.
func connectAndSubscribe(ctx context.Context, client paho.Client, subscribed <-chan error) error {
	tok := client.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return err
		}
	case <-ctx.Done():
		client.Disconnect(0)
		return ctx.Err()
	}
	select {
	case err := <-subscribed:
		if err != nil {
			client.Disconnect(0)
			return fmt.Errorf("subscribe to %s: %w", protocol.CommandTopic, err)
		}
		return nil
	case <-ctx.Done():
		client.Disconnect(0)
		return ctx.Err()
	}
}

type pahoPublisher struct {
	client paho.Client
	log    *slog.Logger
}

// publishTimeout bounds the wait for a publication's acknowledgement.
const publishTimeout = 30 * time.Second

var errNotConnected = errors.New("not connected to the MQTT broker")

func (p *pahoPublisher) publish(topic string, payload []byte) error {
	if !p.client.IsConnectionOpen() {
		return errNotConnected
	}
	// Not waited for: the caller holds the sim's lock, and paho keeps
	// publications in order.
	tok := p.client.Publish(topic, eventQoS, false, payload)
	go func() {
		if tok.WaitTimeout(publishTimeout) && tok.Error() != nil {
			p.log.Warn("publish event", "topic", topic, "err", tok.Error())
		}
	}()
	return nil
}

func (p *pahoPublisher) close() error {
	p.client.Disconnect(250)
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
