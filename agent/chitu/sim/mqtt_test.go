package sim

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"casefleet/agent/chitu/protocol"
)

func TestBrokerAdmitsOnlyThePlatformCredentials(t *testing.T) {
	ts := newTestSim(t)
	broker := ts.serveMQTT(t)
	tests := []struct {
		name, user, pass string
		wantOK           bool
	}{
		{"app id and MQTT password", testAppID, testMQTTPass, true},
		{"wrong password", testAppID, "guess", false},
		{"app secret as password", testAppID, testSecret, false},
		{"wrong username", "admin", testMQTTPass, false},
		{"anonymous", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := connectPaho(t, broker, tt.user, tt.pass)
			if (err == nil) != tt.wantOK {
				t.Fatalf("connect err = %v, want ok=%v", err, tt.wantOK)
			}
		})
	}
}

func TestMachineInfoAndCleanNozzleAnswers(t *testing.T) {
	ts := newTestSim(t)
	broker := ts.serveMQTT(t)
	id := machineIDOf(codeA)
	sub := subscribe(t, broker, protocol.EventTopic(id))

	sub.command(t, protocol.MsgMachineInfo, id)
	info := sub.next(t)
	if got := keys(t, info); got != "isNormal,machineId,msgType,payWayList" {
		t.Fatalf("machineInfo keys %s: %s", got, info)
	}
	if string(info) != `{"msgType":"machineInfo","machineId":"`+id+`","isNormal":true,"payWayList":["nayax","ict","vpos","saobei"]}` {
		t.Fatalf("machineInfo %s", info)
	}

	sub.command(t, protocol.MsgCleanNozzle, id)
	if clean := sub.next(t); string(clean) != `{"msgType":"cleanNozzle","machineId":"`+id+`","result":true}` {
		t.Fatalf("cleanNozzle %s", clean)
	}
}

// Commands that no online machine should answer go unanswered: the next
// message is the answer to the first good command after them.
func TestCommandsThatGoUnanswered(t *testing.T) {
	ts := newTestSim(t)
	broker := ts.serveMQTT(t)
	id := machineIDOf(codeA)
	sub := subscribe(t, broker, protocol.EventTopic(id))
	sub.add(t, protocol.EventTopic(machineIDOf(codeB)))

	ts.admin(t, http.MethodPost, "/admin/machines/"+codeA+"/offline", "", http.StatusOK, nil)
	sub.command(t, protocol.MsgMachineInfo, id)
	sub.barrier(t)
	ts.admin(t, http.MethodPost, "/admin/machines/"+codeA+"/online", "", http.StatusOK, nil)
	for _, payload := range []string{
		`not json`,
		`{"msgType":"machineInfo","machineId":"` + id + `"}`, // not wrapped in data
		`{"data":{"msgType":"selfDestruct","machineId":"` + id + `"}}`,
		`{"data":{"msgType":"machineInfo","machineId":"M999"}}`,
		`{"data":{"msgType":"machineInfo","machineId":"` + id + `","x":"` + strings.Repeat("a", protocol.MaxEventSize) + `"}}`,
	} {
		sub.publishRaw(t, protocol.CommandTopic, []byte(payload))
	}
	sub.command(t, protocol.MsgCleanNozzle, id)
	if ev, err := protocol.ParseEvent(sub.next(t)); err != nil || ev.CleanNozzle == nil {
		t.Fatalf("first answer %+v (%v), want the cleanNozzle result", ev, err)
	}
}

func TestOneMQTTAttachmentPerSim(t *testing.T) {
	ts := newTestSim(t)
	ts.serveMQTT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.ServeMQTT(ln); err == nil {
		t.Fatal("a second broker was started")
	}
	if err := ts.ConnectMQTT(t.Context(), "tcp://127.0.0.1:1"); err == nil {
		t.Fatal("a second MQTT attachment was accepted")
	}
}

func TestConnectMQTTFailsFast(t *testing.T) {
	ts := newTestSim(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	if err := ts.ConnectMQTT(t.Context(), "tcp://"+addr); err == nil {
		t.Fatal("connected to a closed port")
	}
}

// The sim's paho client logs in with the platform credentials: against
// another sim's broker, the wrong password is refused.
func TestConnectMQTTUsesTheCredentials(t *testing.T) {
	other := newTestSim(t, func(c *Config) { c.MQTTPassword = "another" })
	broker := other.serveMQTT(t)
	ts := newTestSim(t)
	if err := ts.ConnectMQTT(t.Context(), broker); err == nil {
		t.Fatal("connected with the wrong password")
	}
	right := newTestSim(t, func(c *Config) { c.MQTTPassword = "another" })
	if err := right.ConnectMQTT(t.Context(), broker); err != nil {
		t.Fatal(err)
	}
}
