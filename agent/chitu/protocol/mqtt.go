package protocol

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// CommandTopic is where commands to the platform are published.
const CommandTopic = "ct/machine/common"

// EventTopic is the topic on which the platform publishes a machine's
// events: ct/platform/{md5hex(source)}, where source is the machineId
// (or, per a setting, the device_id).
func EventTopic(source string) string {
	sum := md5.Sum([]byte(source))
	return "ct/platform/" + hex.EncodeToString(sum[:])
}

// Message types.
const (
	MsgMachineInfo = "machineInfo"
	MsgCleanNozzle = "cleanNozzle"
	MsgOrderStatus = "orderStatus"
)

// Command is a command to the platform, published on CommandTopic.
type Command struct {
	Data CommandData `json:"data"`
}

// CommandData is the body of a Command.
type CommandData struct {
	MsgType   string `json:"msgType"`
	MachineID string `json:"machineId"`
}

// Vendor order states, in the order an order moves through them.
const (
	OrderPending   = "pending"
	OrderPaid      = "paid"
	OrderPrinting  = "printing"
	OrderCompleted = "completed"
	OrderFailed    = "failed"
)

// Pay states.
const (
	PayUnpaid   = "unpaid"
	PayPaid     = "paid"
	PayRefunded = "refunded"
)

// OrderRank orders vendor states so a late or duplicate message never moves
// an order backwards. Unknown states rank -1.
func OrderRank(status string) int {
	switch status {
	case OrderPending:
		return 0
	case OrderPaid:
		return 1
	case OrderPrinting:
		return 2
	case OrderCompleted, OrderFailed:
		return 3
	}
	return -1
}

// Event is a message from the platform. Exactly one of the pointers is set,
// matching MsgType.
type Event struct {
	MsgType     string
	MachineInfo *MachineInfo
	CleanNozzle *CleanNozzleResult
	OrderStatus *OrderStatus
}

// MachineInfo answers a machineInfo command.
type MachineInfo struct {
	MsgType    string   `json:"msgType"`
	MachineID  string   `json:"machineId"`
	IsNormal   bool     `json:"isNormal"`
	PayWayList []string `json:"payWayList"`
}

// CleanNozzleResult answers a cleanNozzle command.
type CleanNozzleResult struct {
	MsgType   string `json:"msgType"`
	MachineID string `json:"machineId"`
	Result    bool   `json:"result"`
}

// OrderStatus reports an order's progress at the machine.
type OrderStatus struct {
	MsgType   string `json:"msgType"`
	OrderID   Text   `json:"orderId"`
	OrderNo   string `json:"orderNo"`
	MachineID string `json:"machineId"`
	Status    string `json:"status"`
	PayStatus string `json:"payStatus"`
	PayType   string `json:"payType"`
	Amount    Text   `json:"amount"`
	Timestamp int64  `json:"timestamp"`
}

// MaxEventSize bounds an event payload; anything larger is refused.
const MaxEventSize = 64 << 10

// ParseEvent decodes an event payload. Unknown message types are an error
// the caller can log and drop.
func ParseEvent(payload []byte) (Event, error) {
	if len(payload) > MaxEventSize {
		return Event{}, fmt.Errorf("event of %d bytes exceeds %d", len(payload), MaxEventSize)
	}
	var head struct {
		MsgType string `json:"msgType"`
	}
	if err := json.Unmarshal(payload, &head); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	ev := Event{MsgType: head.MsgType}
	var err error
	switch head.MsgType {
	case MsgMachineInfo:
		ev.MachineInfo = new(MachineInfo)
		err = json.Unmarshal(payload, ev.MachineInfo)
	case MsgCleanNozzle:
		ev.CleanNozzle = new(CleanNozzleResult)
		err = json.Unmarshal(payload, ev.CleanNozzle)
	case MsgOrderStatus:
		ev.OrderStatus = new(OrderStatus)
		err = json.Unmarshal(payload, ev.OrderStatus)
		if err == nil && ev.OrderStatus.OrderID == "" && ev.OrderStatus.OrderNo == "" {
			err = fmt.Errorf("orderStatus names no order")
		}
		if err == nil && OrderRank(ev.OrderStatus.Status) < 0 {
			err = fmt.Errorf("orderStatus with unknown status %q", ev.OrderStatus.Status)
		}
	case "":
		return Event{}, fmt.Errorf("event has no msgType")
	default:
		return Event{}, fmt.Errorf("unknown event msgType %q", head.MsgType)
	}
	if err != nil {
		return Event{}, fmt.Errorf("decode %s event: %w", head.MsgType, err)
	}
	return ev, nil
}
