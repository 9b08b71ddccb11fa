package chitu

import (
	"context"
	"errors"
	"fmt"

	"casefleet/agent/chitu/protocol"
)

// Machine reads the machine's record: machineDetailsTwo by code, or, where
// the platform refuses that call, machineDetails by device_id.
func (d *Driver) Machine(ctx context.Context) (Machine, error) {
	m, err := d.machineByCode(ctx)
	if IsRejected(err) {
		var ids machineIDs
		if ids, err = d.idsFor(ctx); err == nil {
			var data protocol.MachineDetailsData
			err = d.api.call(ctx, protocol.CallMachineDetails, fields{"device_id": ids.deviceID}, &data)
			m = data.Data
		}
	}
	if err == nil && m.DeviceID == "" {
		err = errors.New("machine record has no device_id")
	}
	if err != nil {
		return Machine{}, fmt.Errorf("read machine %s: %w", d.code, err)
	}
	if checkIDs(m) == nil {
		d.remember(m)
	}
	return Machine{
		Code:      d.code,
		DeviceID:  m.DeviceID,
		MachineID: m.MachineID,
		Name:      m.Name,
		Model:     m.MachineModel,
		Address:   m.Address,
		Online:    m.Online(),
		Ink:       InkFromSugars(m),
	}, nil
}

// Products lists the active phone-case catalogue (type diy), reading every
// page.
func (d *Driver) Products(ctx context.Context) ([]protocol.Brand, error) {
	ids, err := d.idsFor(ctx)
	if err != nil {
		return nil, fmt.Errorf("list products of %s: %w", d.code, err)
	}
	var brands []protocol.Brand
	for page := 1; ; page++ {
		if page > maxProductPages {
			d.log.Warn("product catalogue truncated", "pages", maxProductPages, "brands", len(brands))
			return brands, nil
		}
		var data protocol.ProductListData
		err := d.api.call(ctx, protocol.CallMachineProductList, fields{
			"device_id": ids.deviceID, "type": "diy", "status": 1, "page": page, "limit": pageLimit,
		}, &data)
		if err != nil {
			return nil, fmt.Errorf("list products of %s (page %d): %w", d.code, page, err)
		}
		brands = append(brands, data.List...)
		if lastPage(data.Count, len(brands), len(data.List)) {
			return brands, nil
		}
	}
}

// lastPage decides whether a listing is complete: by the total count when
// the platform gives one, else by a short page.
func lastPage(count, read, onPage int) bool {
	if onPage == 0 {
		return true
	}
	if count > 0 {
		return read >= count
	}
	return onPage < pageLimit
}

// CreateOrder asks the machine to print the file at imageURL and returns
// the vendor's order id. Only a *RejectedError proves that no order exists.
func (d *Driver) CreateOrder(ctx context.Context, productID, imageURL string) (string, error) {
	ids, err := d.idsFor(ctx)
	if err != nil {
		return "", fmt.Errorf("create order for %s: %w", d.code, err)
	}
	var data protocol.CreateOrderData
	err = d.api.call(ctx, protocol.CallMachineCreateOrder, fields{
		"device_id":  ids.deviceID,
		"product_id": productID,
		"pay_type":   d.cfg.PayType,
		"image_url":  imageURL,
	}, &data)
	if err == nil && data.OrderID == "" {
		err = errors.New("platform accepted the order but sent no order_id")
	}
	if err != nil {
		return "", fmt.Errorf("create order for %s: %w", d.code, err)
	}
	return data.OrderID.String(), nil
}

// SetQRCode sets the QR code on the machine's home screen.
func (d *Driver) SetQRCode(ctx context.Context, url string) error {
	ids, err := d.idsFor(ctx)
	if err == nil {
		err = d.api.call(ctx, protocol.CallMachineQRCode, fields{"device_id": ids.deviceID, "qrcode": url}, nil)
	}
	if err != nil {
		return fmt.Errorf("set QR code of %s: %w", d.code, err)
	}
	return nil
}
