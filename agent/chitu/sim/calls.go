package sim

import (
	"net/http"
	"slices"
	"strconv"

	"casefleet/agent/chitu/protocol"
)

// The open-API calls, one method each: they get a request whose signature
// is verified and return the envelope's data or a refusal.

// Paging of list calls.
const (
	defaultLimit = 20
	maxLimit     = 100
)

func (s *Sim) deviceByID(fields map[string]string) (*simMachine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.byDevice[fields["device_id"]]; m != nil {
		return m, nil
	}
	return nil, errNoSuchDevice
}

func (s *Sim) machineList(_ *http.Request, fields map[string]string) (any, error) {
	page, limit, err := paging(fields)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := []protocol.Machine{}
	for _, m := range pageOf(s.machines, page, limit) {
		list = append(list, m.record())
	}
	return protocol.MachineListData{Count: len(s.machines), List: list}, nil
}

func (s *Sim) machineDetails(_ *http.Request, fields map[string]string) (any, error) {
	m, err := s.deviceByID(fields)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return protocol.MachineDetailsData{Data: m.record()}, nil
}

func (s *Sim) machineDetailsTwo(_ *http.Request, fields map[string]string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byCode[fields["device_code"]]
	if m == nil {
		return nil, errNoSuchDevice
	}
	return protocol.MachineDetailsData{Data: m.record()}, nil
}

func (s *Sim) machineProductList(r *http.Request, fields map[string]string) (any, error) {
	if _, err := s.deviceByID(fields); err != nil {
		return nil, err
	}
	page, limit, err := paging(fields)
	if err != nil {
		return nil, err
	}
	brands := brandsFor(baseURL(r))
	switch fields["type"] {
	case "", "diy":
	case "default":
		brands = nil // ready-made designs are not simulated
	default:
		return nil, badParam("type")
	}
	if st := fields["status"]; st != "" && st != "1" {
		brands = nil // every product is active
	}
	list := pageOf(brands, page, limit)
	if list == nil {
		list = []protocol.Brand{}
	}
	return protocol.ProductListData{Count: len(brands), List: list}, nil
}

// createOrderData is the data of machineCreateOrder.
type createOrderData struct {
	OrderID string `json:"order_id"`
	OrderNo string `json:"order_no"`
}

func (s *Sim) machineCreateOrder(_ *http.Request, fields map[string]string) (any, error) {
	m, err := s.deviceByID(fields)
	if err != nil {
		return nil, err
	}
	p, ok := productByID(fields["product_id"])
	if !ok {
		return nil, errNoSuchProduct
	}
	if !slices.Contains(payWays, fields["pay_type"]) {
		return nil, errPayTypeOff
	}
	if fields["image_url"] == "" {
		return nil, badParam("image_url")
	}
	o, err := s.createOrder(m, p, fields["pay_type"], fields["image_url"])
	if err != nil {
		return nil, &apiError{500, err.Error()}
	}
	return createOrderData{OrderID: o.id, OrderNo: o.no}, nil
}

// maxQRCodeLen bounds the QR code URL a machine shows.
const maxQRCodeLen = 2048

func (s *Sim) machineQRCode(_ *http.Request, fields map[string]string) (any, error) {
	m, err := s.deviceByID(fields)
	if err != nil {
		return nil, err
	}
	qr := fields["qrcode"]
	if qr == "" || len(qr) > maxQRCodeLen {
		return nil, badParam("qrcode")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The platform keeps the setting, so it is accepted even while the
	// machine is offline; the machine shows it when it comes back.
	m.qrcode = qr
	s.log.Info("QR code set", "machine", m.code, "qrcode", qr)
	return nil, nil
}

// paymentConfig is the data of machineQueryPaymentConfig.
type paymentConfig struct {
	DeviceID   string   `json:"device_id"`
	PayWayList []string `json:"payWayList"`
}

func (s *Sim) machineQueryPaymentConfig(_ *http.Request, fields map[string]string) (any, error) {
	m, err := s.deviceByID(fields)
	if err != nil {
		return nil, err
	}
	return paymentConfig{DeviceID: m.deviceID, PayWayList: payWays}, nil
}

// Inventory of a CT-sjk360: a grid of blank-case slots.
type (
	inventoryData struct {
		Stock   []inventoryRow    `json:"stock"`
		ProList []inventoryOption `json:"proList"`
	}
	inventoryRow struct {
		Column []inventorySlot `json:"column"`
	}
	inventorySlot struct {
		Index     int    `json:"index"`
		ProductID string `json:"product_id"`
		Stock     int    `json:"stock"`
	}
	inventoryOption struct {
		Text  string `json:"text"`
		Value string `json:"value"`
	}
)

// inventoryColumns is the width of the CT-sjk360's stock grid.
const inventoryColumns = 5

func (s *Sim) machineInventoryInfo(_ *http.Request, fields map[string]string) (any, error) {
	m, err := s.deviceByID(fields)
	if err != nil {
		return nil, err
	}
	if m.model != modelSJK360 {
		return nil, errNoInventory
	}
	var inv inventoryData
	i := 0
	for _, b := range catalogue {
		for _, p := range b.models {
			if i%inventoryColumns == 0 {
				inv.Stock = append(inv.Stock, inventoryRow{})
			}
			row := &inv.Stock[len(inv.Stock)-1]
			row.Column = append(row.Column, inventorySlot{Index: i + 1, ProductID: p.productID, Stock: p.stock})
			inv.ProList = append(inv.ProList, inventoryOption{Text: b.nameEN + " " + p.nameEN, Value: p.productID})
			i++
		}
	}
	return inv, nil
}

// paging reads page (from 1) and limit; limits over maxLimit are capped.
func paging(fields map[string]string) (page, limit int, err error) {
	page, limit = 1, defaultLimit
	if v := fields["page"]; v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 {
			return 0, 0, badParam("page")
		}
	}
	if v := fields["limit"]; v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			return 0, 0, badParam("limit")
		}
	}
	return page, min(limit, maxLimit), nil
}

// pageOf returns one page of items.
func pageOf[T any](items []T, page, limit int) []T {
	start := (page - 1) * limit
	if start >= len(items) || start < 0 {
		return nil
	}
	return items[start:min(start+limit, len(items))]
}
