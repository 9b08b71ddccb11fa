package sim

import (
	"encoding/json"
	"errors"

	"casefleet/agent/chitu/protocol"
)

// publisher carries the sim's events to an MQTT broker: the embedded one
// (ServeMQTT) or an external one (ConnectMQTT).
type publisher interface {
	publish(topic string, payload []byte) error
	close() error
}

// eventQoS is the QoS of every event; subscribers get at most what they
// asked for.
const eventQoS = 1

// claimMQTT reserves the sim's single MQTT attachment before it is set up.
func (s *Sim) claimMQTT() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errors.New("sim is closed")
	case s.mqttClaimed:
		return errors.New("sim already has an MQTT broker or connection")
	}
	s.mqttClaimed = true
	return nil
}

// unclaimMQTT gives the attachment back after a failed set-up.
func (s *Sim) unclaimMQTT() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mqttClaimed = false
}

// attach starts publishing through p; if the sim closed meanwhile, p is
// closed instead.
func (s *Sim) attach(p publisher) error {
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.out = p
	}
	s.mu.Unlock()
	if closed {
		p.close()
		return errors.New("sim is closed")
	}
	return nil
}

// publishLocked publishes msg on m's event topic and reports whether it
// went out.
func (s *Sim) publishLocked(m *simMachine, msg any) bool {
	if s.out == nil {
		s.log.Debug("no MQTT broker, event dropped", "machine", m.code)
		return false
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		s.log.Error("encode event", "machine", m.code, "err", err)
		return false
	}
	topic := s.eventTopic(m)
	if err := s.out.publish(topic, payload); err != nil {
		s.log.Warn("publish event", "machine", m.code, "topic", topic, "err", err)
		return false
	}
	s.log.Debug("event published", "machine", m.code, "topic", topic, "payload", string(payload))
	return true
}

// handleCommand answers a command published on protocol.CommandTopic, as a
// machine that is online does. Commands for unknown or offline machines,
// and malformed ones, go unanswered.
func (s *Sim) handleCommand(payload []byte) {
	if len(payload) > protocol.MaxEventSize {
		s.log.Warn("command too large, ignored", "bytes", len(payload))
		return
	}
	var cmd protocol.Command
	if err := json.Unmarshal(payload, &cmd); err != nil {
		s.log.Warn("malformed command, ignored", "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byMachine[cmd.Data.MachineID]
	if m == nil {
		s.log.Debug("command for an unknown machine, ignored", "machineId", cmd.Data.MachineID)
		return
	}
	if !m.online {
		s.log.Info("command to an offline machine, unanswered", "machine", m.code, "msgType", cmd.Data.MsgType)
		return
	}
	switch cmd.Data.MsgType {
	case protocol.MsgMachineInfo:
		s.publishLocked(m, protocol.MachineInfo{
			MsgType:    protocol.MsgMachineInfo,
			MachineID:  m.machineID,
			IsNormal:   true,
			PayWayList: payWays,
		})
	case protocol.MsgCleanNozzle:
		s.log.Info("cleaning nozzle", "machine", m.code)
		s.publishLocked(m, protocol.CleanNozzleResult{
			MsgType:   protocol.MsgCleanNozzle,
			MachineID: m.machineID,
			Result:    true,
		})
	default:
		s.log.Warn("unknown command, ignored", "machine", m.code, "msgType", cmd.Data.MsgType)
	}
}
