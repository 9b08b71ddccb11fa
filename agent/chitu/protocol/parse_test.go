package protocol

import (
	"strings"
	"testing"
)

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		wantErr string
		check   func(t *testing.T, ev Event)
	}{
		{name: "order status with numeric id",
			payload: `{"msgType":"orderStatus","orderId":123456,"orderNo":"NO1","machineId":"m1","status":"paid","payStatus":"paid","payType":"nayax","amount":"19.90","timestamp":1700000000000}`,
			check: func(t *testing.T, ev Event) {
				if ev.OrderStatus == nil || ev.OrderStatus.OrderID != "123456" || ev.OrderStatus.Status != OrderPaid {
					t.Fatalf("got %+v", ev.OrderStatus)
				}
			}},
		{name: "order status with string id",
			payload: `{"msgType":"orderStatus","orderId":"A-77","status":"printing"}`,
			check: func(t *testing.T, ev Event) {
				if ev.OrderStatus.OrderID != "A-77" {
					t.Fatalf("id %q", ev.OrderStatus.OrderID)
				}
			}},
		{name: "machine info",
			payload: `{"msgType":"machineInfo","machineId":"m1","isNormal":true,"payWayList":["nayax"]}`,
			check: func(t *testing.T, ev Event) {
				if ev.MachineInfo == nil || !ev.MachineInfo.IsNormal || ev.MachineInfo.PayWayList[0] != "nayax" {
					t.Fatalf("got %+v", ev.MachineInfo)
				}
			}},
		{name: "clean nozzle",
			payload: `{"msgType":"cleanNozzle","machineId":"m1","result":true}`,
			check: func(t *testing.T, ev Event) {
				if ev.CleanNozzle == nil || !ev.CleanNozzle.Result {
					t.Fatalf("got %+v", ev.CleanNozzle)
				}
			}},
		{name: "not json", payload: `{"msgType":`, wantErr: "decode event"},
		{name: "no type", payload: `{}`, wantErr: "no msgType"},
		{name: "unknown type", payload: `{"msgType":"launchRocket"}`, wantErr: "unknown event msgType"},
		{name: "order without id", payload: `{"msgType":"orderStatus","status":"paid"}`, wantErr: "names no order"},
		{name: "unknown order state", payload: `{"msgType":"orderStatus","orderId":1,"status":"teleported"}`, wantErr: "unknown status"},
		{name: "wrong field type", payload: `{"msgType":"machineInfo","isNormal":"yes"}`, wantErr: "decode machineInfo"},
		{name: "oversized", payload: `{"msgType":"machineInfo","x":"` + strings.Repeat("a", MaxEventSize) + `"}`, wantErr: "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParseEvent([]byte(tt.payload))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, ev)
		})
	}
}

func TestEnvelopeAcceptsBothSpellings(t *testing.T) {
	for _, body := range []string{
		`{"status":500,"msg":"未设置"}`,
		`{"code":500,"message":"未设置"}`,
		`{"code":"500","message":"未设置"}`,
	} {
		var e Envelope
		if err := e.UnmarshalJSON([]byte(body)); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if e.Status != 500 || e.Msg != "未设置" {
			t.Fatalf("%s: got %+v", body, e)
		}
	}
	var e Envelope
	if err := e.UnmarshalJSON([]byte(`{"msg":"no status"}`)); err == nil {
		t.Fatal("want an error for a response without status")
	}
}

func TestEventTopic(t *testing.T) {
	// md5("M0001"), as md5sum prints it.
	if got, want := EventTopic("M0001"), "ct/platform/c666b86a055203ec9531e6dfa52079bd"; got != want {
		t.Fatalf("EventTopic = %q, want %q", got, want)
	}
}

func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"msgType":"orderStatus","orderId":1,"status":"paid"}`))
	f.Add([]byte(`{"msgType":"machineInfo","machineId":"m","isNormal":true}`))
	f.Add([]byte(`{"msgType":"cleanNozzle","result":false}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := ParseEvent(b)
		if err != nil {
			return
		}
		set := 0
		for _, p := range []bool{ev.MachineInfo != nil, ev.CleanNozzle != nil, ev.OrderStatus != nil} {
			if p {
				set++
			}
		}
		if set != 1 {
			t.Fatalf("parsed event %q sets %d bodies", ev.MsgType, set)
		}
	})
}

func FuzzEnvelope(f *testing.F) {
	f.Add([]byte(`{"status":200,"msg":"ok","data":{}}`))
	f.Add([]byte(`{"code":"1","message":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Envelope
		_ = e.UnmarshalJSON(b)
	})
}
