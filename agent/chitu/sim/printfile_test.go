package sim

import (
	"image"
	"testing"
)

// FuzzInspectPrintFile: whatever a machine is served, inspecting it
// neither panics nor accepts a file of the wrong size.
func FuzzInspectPrintFile(f *testing.F) {
	want := image.Pt(8, 16)
	f.Add(encodeTIFF(f, want))
	f.Add(encodeTIFF(f, image.Pt(16, 8)))
	f.Add(encodePNG(f, want))
	f.Add([]byte("II*\x00garbage"))
	f.Add([]byte("\x89PNG\r\n\x1a\ngarbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := inspectPrintFile(data, want)
		if !r.Done || r.Bytes != len(data) {
			t.Fatalf("report %+v", r)
		}
		if r.OK != (r.Error == "") {
			t.Fatalf("ok=%v with error %q", r.OK, r.Error)
		}
		if r.OK && image.Pt(r.Width, r.Height) != want && image.Pt(r.Height, r.Width) != want {
			t.Fatalf("accepted a %dx%d file", r.Width, r.Height)
		}
	})
}

// FuzzHandleCommand: no command payload upsets the sim.
func FuzzHandleCommand(f *testing.F) {
	f.Add([]byte(`{"data":{"msgType":"machineInfo","machineId":"` + machineIDOf(codeA) + `"}}`))
	f.Add([]byte(`{"data":{"msgType":"cleanNozzle","machineId":"` + machineIDOf(codeA) + `"}}`))
	f.Add([]byte(`{"data":null}`))
	s, err := New(Config{Machines: []string{codeA}, AppID: testAppID, AppSecret: testSecret,
		MQTTPassword: testMQTTPass, Logger: testLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, payload []byte) {
		s.handleCommand(payload)
	})
}
