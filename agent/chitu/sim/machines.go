package sim

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"casefleet/agent/chitu/protocol"
)

// Machine models.
const (
	modelCT360    = "CT-360"
	modelSJK360   = "CT-sjk360"
	sjkCodePrefix = "SJK"
)

// payWays are the pay types every simulated machine accepts.
var payWays = []string{"nayax", "ict", "vpos", "saobei"}

// Ink colours in the order the admin API lists them, with the candy
// machines' field each one travels in.
var inkColours = []string{"cyan", "magenta", "yellow", "black"}

// Ink words of the admin API, and the platform values they stand for.
var inkWords = map[string]string{
	"ok":      protocol.InkSufficient,
	"low":     protocol.InkLow,
	"unknown": protocol.InkUnknown,
}

// inkWord is the admin word for a platform ink value.
func inkWord(value string) string {
	switch value {
	case protocol.InkSufficient:
		return "ok"
	case protocol.InkLow:
		return "low"
	}
	return "unknown"
}

// simMachine is one simulated printer. Guarded by Sim.mu.
type simMachine struct {
	code      string
	deviceID  string
	machineID string
	deviceKey string
	model     string
	online    bool
	ink       map[string]string // colour -> platform value ("0", "1", "-1")
	qrcode    string
	current   *order // the order in progress, if any
}

func newSimMachine(code, appSecret string) *simMachine {
	model := modelCT360
	if strings.HasPrefix(code, sjkCodePrefix) {
		model = modelSJK360
	}
	m := &simMachine{
		code:      code,
		deviceID:  base64.StdEncoding.EncodeToString([]byte("dev-" + code)),
		machineID: machineIDOf(code),
		deviceKey: deviceKey(code, appSecret),
		model:     model,
		online:    true,
		ink:       make(map[string]string),
	}
	for _, c := range inkColours {
		m.ink[c] = protocol.InkSufficient
	}
	return m
}

// machineIDOf derives a stable, numeric-looking MQTT machine id from a code
// (which shared/machine guarantees is 2-4 capital letters and digits): the
// letter count, each letter as two digits, then the code's digits. Being
// one-to-one, two machines never share a topic.
func machineIDOf(code string) string {
	var b strings.Builder
	letters := 0
	for letters < len(code) && code[letters] >= 'A' && code[letters] <= 'Z' {
		letters++
	}
	fmt.Fprintf(&b, "M%d", letters)
	for i := 0; i < letters; i++ {
		fmt.Fprintf(&b, "%02d", code[i]-'A'+1)
	}
	b.WriteString(code[letters:])
	return b.String()
}

// deviceKey is what the platform puts in device_key: the code encrypted with
// AES-128-CBC, key = first 16 characters of the app secret, IV = last 16,
// PKCS#7 padding, base64. Empty when the secret is too short for that.
func deviceKey(code, appSecret string) string {
	if len(appSecret) < aes.BlockSize {
		return ""
	}
	block, err := aes.NewCipher([]byte(appSecret[:aes.BlockSize]))
	if err != nil {
		return ""
	}
	pad := aes.BlockSize - len(code)%aes.BlockSize
	plain := append([]byte(code), bytes.Repeat([]byte{byte(pad)}, pad)...)
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, []byte(appSecret[len(appSecret)-aes.BlockSize:])).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}

func (m *simMachine) onlineStatus() string {
	if m.online {
		return "online"
	}
	return "offline"
}

// record is the machine as machineList and machineDetails return it.
func (m *simMachine) record() protocol.Machine {
	return protocol.Machine{
		MerID:        "1001",
		Name:         "Kiosk " + m.code,
		DeviceID:     m.deviceID,
		DeviceCode:   m.code,
		MachineModel: m.model,
		Address:      "Simulated mall, floor 1",
		OnlineStatus: m.onlineStatus(),
		DeviceKey:    m.deviceKey,
		MachineID:    m.machineID,
		Pole:         "1",
		WhiteSugar:   m.ink["cyan"],
		BlueSugar:    m.ink["magenta"],
		YellowSugar:  m.ink["yellow"],
		RedSugar:     m.ink["black"],
	}
}

// MachineView is a machine as the admin API shows it.
type MachineView struct {
	Code         string            `json:"code"`
	DeviceID     string            `json:"device_id"`
	MachineID    string            `json:"machineId"`
	Model        string            `json:"model"`
	Online       bool              `json:"online"`
	Ink          map[string]string `json:"ink"` // colour -> ok, low or unknown
	QRCode       string            `json:"qrcode"`
	CurrentOrder string            `json:"currentOrder,omitempty"`
	EventTopic   string            `json:"eventTopic"`
}

func (s *Sim) machineViewLocked(m *simMachine) MachineView {
	v := MachineView{
		Code:       m.code,
		DeviceID:   m.deviceID,
		MachineID:  m.machineID,
		Model:      m.model,
		Online:     m.online,
		Ink:        make(map[string]string, len(m.ink)),
		QRCode:     m.qrcode,
		EventTopic: s.eventTopic(m),
	}
	for colour, value := range m.ink {
		v.Ink[colour] = inkWord(value)
	}
	if m.current != nil {
		v.CurrentOrder = m.current.id
	}
	return v
}

// eventTopic is where the machine's events are published.
func (s *Sim) eventTopic(m *simMachine) string {
	if s.topicSource == TopicSourceDeviceID {
		return protocol.EventTopic(m.deviceID)
	}
	return protocol.EventTopic(m.machineID)
}

// setOnline switches a machine on or off. Switching it off loses the order
// in progress at the machine, as when a real printer loses power.
func (s *Sim) setOnline(code string, online bool) (MachineView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byCode[code]
	if m == nil {
		return MachineView{}, fmt.Errorf("%w: %s", errUnknownMachine, code)
	}
	if m.online != online {
		s.log.Info("machine switched", "machine", code, "online", online)
	}
	if !online && m.current != nil {
		s.abortLocked(m.current, "machine went offline")
	}
	m.online = online
	return s.machineViewLocked(m), nil
}

// setInk sets some ink levels, given as admin words (ok, low, unknown).
func (s *Sim) setInk(code string, levels map[string]string) (MachineView, error) {
	for colour, word := range levels {
		if _, ok := inkWords[word]; !ok {
			return MachineView{}, fmt.Errorf("%w: ink level %q for %s, want ok, low or unknown", errBadInput, word, colour)
		}
		if !slices.Contains(inkColours, colour) {
			return MachineView{}, fmt.Errorf("%w: ink colour %q, want cyan, magenta, yellow or black", errBadInput, colour)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byCode[code]
	if m == nil {
		return MachineView{}, fmt.Errorf("%w: %s", errUnknownMachine, code)
	}
	for colour, word := range levels {
		m.ink[colour] = inkWords[word]
	}
	return s.machineViewLocked(m), nil
}
