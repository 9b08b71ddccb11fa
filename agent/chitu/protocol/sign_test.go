package protocol

import "testing"

// The worked examples of shared/docs/chitu-protocol.md.
func TestSignWorkedExamples(t *testing.T) {
	const appID, secret = "ctAPPID0001", "0123456789abcdef0123456789abcdef"
	tests := []struct {
		name   string
		fields map[string]string
		want   string
	}{
		{
			name:   "machineDetailsTwo",
			fields: map[string]string{"appid": appID, "device_code": "CT0700026"},
			want:   "3357d086dd55cdcb6b06841b657c4c29dfb9e5f08b2284612e2c190701989c47",
		},
		{
			name: "machineProductList with numbers",
			fields: map[string]string{"appid": appID, "device_id": "ZGV2LUNUMDcwMDAyNg==",
				"type": "diy", "status": "1", "page": "1", "limit": "100"},
			want: "2337a9202ad84891f51a102e80e52db02c8d75d3ddd8f3ac6635215a7872eb15",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sign(tt.fields, secret); got != tt.want {
				t.Fatalf("Sign = %s, want %s", got, tt.want)
			}
			signed := map[string]string{"sign": tt.want}
			for k, v := range tt.fields {
				signed[k] = v
			}
			if !Verify(signed, secret) {
				t.Fatal("Verify rejected the worked example")
			}
			signed["appid"] = "someone-else"
			if Verify(signed, secret) {
				t.Fatal("Verify accepted a tampered body")
			}
		})
	}
}
