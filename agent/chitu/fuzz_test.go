package chitu

import (
	"errors"
	"testing"

	"casefleet/agent/chitu/protocol"
)

// FuzzDecodeResponse: whatever the platform (or something posing as it)
// answers, decoding never panics, and only a well-formed status other than
// 200 is taken as a refusal.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"status":200,"msg":"ok","data":{"order_id":9876543210}}`))
	f.Add([]byte(`{"code":"200","message":"ok","data":{"order_id":"A-1"}}`))
	f.Add([]byte(`{"status":500,"msg":"未设置"}`))
	f.Add([]byte(`{"status":200,"data":{"count":2,"list":[{"id":1,"name_en":"Apple","modelList":[{"product_id":7,"price":"19.9"}]}]}}`))
	f.Add([]byte(`{"status":200,"data":null}`))
	f.Add([]byte(`<html>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var order protocol.CreateOrderData
		checkDecoded(t, body, decodeResponse(protocol.CallMachineCreateOrder, body, &order))
		var products protocol.ProductListData
		checkDecoded(t, body, decodeResponse(protocol.CallMachineProductList, body, &products))
		for _, b := range products.List {
			for _, m := range b.ModelList {
				_ = m.Product()
			}
		}
		var machine protocol.MachineDetailsData
		checkDecoded(t, body, decodeResponse(protocol.CallMachineDetailsTwo, body, &machine))
		_ = InkFromSugars(machine.Data)
	})
}

func checkDecoded(t *testing.T, body []byte, err error) {
	var rej *RejectedError
	if errors.As(err, &rej) && rej.Status == protocol.StatusOK {
		t.Fatalf("status 200 taken as a refusal: %q", body)
	}
	if err == nil {
		var env protocol.Envelope
		if env.UnmarshalJSON(body) != nil || env.Status != protocol.StatusOK {
			t.Fatalf("accepted a response that is not a status-200 envelope: %q", body)
		}
	}
}
