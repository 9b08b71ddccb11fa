package sim

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"net"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"casefleet/agent/chitu/protocol"
)

// ServeMQTT runs the embedded MQTT broker on ln until Close: clients log in
// with the app id as username and the MQTT password, and the sim publishes
// its events and hears commands in-process. It returns once the broker
// serves.
func (s *Sim) ServeMQTT(ln net.Listener) error {
	if err := s.claimMQTT(); err != nil {
		ln.Close()
		return fmt.Errorf("serve MQTT: %w", err)
	}
	srv, err := s.startBroker(ln)
	if err != nil {
		s.unclaimMQTT()
		return fmt.Errorf("serve MQTT: %w", err)
	}
	s.log.Info("MQTT broker serving", "addr", ln.Addr().String())
	return s.attach(embeddedBroker{srv})
}

// startBroker starts a mochi-mqtt broker on ln with the sim subscribed to
// the command topic.
func (s *Sim) startBroker(ln net.Listener) (*mqtt.Server, error) {
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: s.log.With("component", "broker")})
	if err := srv.AddHook(&authHook{username: []byte(s.appID), password: []byte(s.mqttPass)}, nil); err != nil {
		ln.Close()
		return nil, err
	}
	if err := srv.AddListener(listeners.NewNet("chitusim", ln)); err != nil {
		ln.Close()
		return nil, err
	}
	if err := srv.Serve(); err != nil {
		srv.Close()
		return nil, err
	}
	err := srv.Subscribe(protocol.CommandTopic, 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		s.handleCommand(pk.Payload)
	})
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("subscribe %s: %w", protocol.CommandTopic, err)
	}
	return srv, nil
}

type embeddedBroker struct{ srv *mqtt.Server }

func (b embeddedBroker) publish(topic string, payload []byte) error {
	return b.srv.Publish(topic, payload, false, eventQoS)
}

func (b embeddedBroker) close() error { return b.srv.Close() }

// authHook admits only the platform's credentials. Authenticated clients
// may publish and subscribe anywhere, as on the platform's broker.
type authHook struct {
	mqtt.HookBase
	username, password []byte
}

func (h *authHook) ID() string { return "chitusim-auth" }

func (h *authHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, []byte{b})
}

func (h *authHook) OnConnectAuthenticate(_ *mqtt.Client, pk packets.Packet) bool {
	userOK := subtle.ConstantTimeCompare(pk.Connect.Username, h.username) == 1
	passOK := subtle.ConstantTimeCompare(pk.Connect.Password, h.password) == 1
	return userOK && passOK
}

func (h *authHook) OnACLCheck(*mqtt.Client, string, bool) bool { return true }
