package protocol

import (
	"encoding/json"
	"fmt"
)

// Open-API call names: every call is POST {base}/api/openApi/{name}.
const (
	CallMachineList          = "machineList"
	CallMachineDetails       = "machineDetails"
	CallMachineDetailsTwo    = "machineDetailsTwo"
	CallMachineProductList   = "machineProductList"
	CallMachineCreateOrder   = "machineCreateOrder"
	CallMachineQRCode        = "machineQRCode"
	CallQueryPaymentConfig   = "machineQueryPaymentConfig"
	CallMachineInventoryInfo = "machineInventoryInfo"
)

// PathPrefix is the URL path under which every call lives.
const PathPrefix = "/api/openApi/"

// StatusOK is the envelope status of a successful call.
const StatusOK = 200

// Envelope is the open API's response. Some deployments answer with
// code/message instead of status/msg; UnmarshalJSON accepts both.
type Envelope struct {
	Status int             `json:"status"`
	Msg    string          `json:"msg"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// UnmarshalJSON accepts {status,msg} and the {code,message} variant.
func (e *Envelope) UnmarshalJSON(b []byte) error {
	var raw struct {
		Status  *json.Number    `json:"status"`
		Code    *json.Number    `json:"code"`
		Msg     *string         `json:"msg"`
		Message *string         `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	num := raw.Status
	if num == nil {
		num = raw.Code
	}
	if num == nil {
		return fmt.Errorf("open API response has neither status nor code")
	}
	n, err := num.Int64()
	if err != nil {
		return fmt.Errorf("open API status %q: %w", num.String(), err)
	}
	e.Status = int(n)
	switch {
	case raw.Msg != nil:
		e.Msg = *raw.Msg
	case raw.Message != nil:
		e.Msg = *raw.Message
	}
	e.Data = raw.Data
	return nil
}

// Machine is a machine record as machineList, machineDetails and
// machineDetailsTwo return it.
type Machine struct {
	MerID        Text   `json:"mer_id,omitempty"`
	Name         string `json:"name"`
	DeviceID     string `json:"device_id"`
	DeviceCode   string `json:"device_code"`
	MachineModel string `json:"machine_model,omitempty"`
	Address      string `json:"address,omitempty"`
	OnlineStatus string `json:"online_status"`
	DeviceKey    string `json:"device_key,omitempty"`
	MachineID    string `json:"machineId"`
	Pole         Text   `json:"pole,omitempty"`

	// Ink levels, named after the candy machines' sugars: white = cyan,
	// blue = magenta, yellow = yellow, red = black. "0" sufficient, "1" low,
	// "-1" unknown.
	WhiteSugar  string `json:"white_sugar,omitempty"`
	BlueSugar   string `json:"blue_sugar,omitempty"`
	YellowSugar string `json:"yellow_sugar,omitempty"`
	RedSugar    string `json:"red_sugar,omitempty"`
}

// Online reports whether the platform sees the machine online.
func (m Machine) Online() bool { return m.OnlineStatus == "online" }

// MachineDetailsData is the data of machineDetails / machineDetailsTwo.
type MachineDetailsData struct {
	Data Machine `json:"data"`
}

// MachineListData is the data of machineList.
type MachineListData struct {
	Count int       `json:"count"`
	List  []Machine `json:"list"`
}

// Brand is one brand of the product catalogue with its phone models.
type Brand struct {
	ID        Text    `json:"id"`
	NameCN    string  `json:"name_cn"`
	NameEN    string  `json:"name_en"`
	ModelList []Model `json:"modelList"`
}

// Model is one phone model. PrintImg is the print template: its pixel size
// is the print file's size, its transparent pixels are cut-outs.
type Model struct {
	ID        Text   `json:"id,omitempty"`
	ProductID Text   `json:"product_id,omitempty"`
	NameCN    string `json:"name_cn"`
	NameEN    string `json:"name_en"`
	ShowImg   string `json:"show_img"`
	PrintImg  string `json:"print_img"`
	Price     Text   `json:"price,omitempty"`
	Stock     Text   `json:"stock,omitempty"`
}

// Product returns the model's product id: product_id, or id when the
// platform left product_id out.
func (m Model) Product() string {
	if m.ProductID != "" {
		return string(m.ProductID)
	}
	return string(m.ID)
}

// ProductListData is the data of machineProductList.
type ProductListData struct {
	Count int     `json:"count"`
	List  []Brand `json:"list"`
}

// CreateOrderData is the data of machineCreateOrder.
type CreateOrderData struct {
	OrderID Text `json:"order_id"`
}

// Ink level values.
const (
	InkSufficient = "0"
	InkLow        = "1"
	InkUnknown    = "-1"
)
