package sim

import (
	"errors"
	"maps"
	"net/url"
	"strings"
	"testing"
)

func TestParseBody(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        map[string]string
		wantErr     string
	}{
		{name: "JSON strings and numbers keep their text", contentType: "application/json",
			body: `{"appid":"a","page":1,"limit":100,"price":19.90}`,
			want: map[string]string{"appid": "a", "page": "1", "limit": "100", "price": "19.90"}},
		{name: "JSON with charset", contentType: "application/json; charset=utf-8",
			body: `{"a":"b"}`, want: map[string]string{"a": "b"}},
		{name: "JSON without a content type", body: `  {"a":"b"}`, want: map[string]string{"a": "b"}},
		{name: "form", contentType: "application/x-www-form-urlencoded",
			body: "appid=a&device_code=CT0700026&sign=x",
			want: map[string]string{"appid": "a", "device_code": "CT0700026", "sign": "x"}},
		{name: "form without a content type", body: "a=b%20c", want: map[string]string{"a": "b c"}},
		{name: "empty", contentType: "application/json", body: " \n", wantErr: "empty body"},
		{name: "truncated JSON", contentType: "application/json", body: `{"a":`, wantErr: "decode JSON"},
		{name: "JSON array", contentType: "application/json", body: `["a"]`, wantErr: "decode JSON"},
		{name: "JSON null", contentType: "application/json", body: `null`, wantErr: "not an object"},
		{name: "nested object", contentType: "application/json", body: `{"a":{"b":1}}`, wantErr: "string or a number"},
		{name: "array value", contentType: "application/json", body: `{"a":[1]}`, wantErr: "string or a number"},
		{name: "bool value", contentType: "application/json", body: `{"a":true}`, wantErr: "string or a number"},
		{name: "null value", contentType: "application/json", body: `{"a":null}`, wantErr: "string or a number"},
		{name: "empty JSON key", contentType: "application/json", body: `{"":"x"}`, wantErr: "empty field name"},
		{name: "data after the object", contentType: "application/json", body: `{"a":"b"}{"c":"d"}`, wantErr: "after the JSON"},
		{name: "form field twice", contentType: "application/x-www-form-urlencoded", body: "a=1&a=2", wantErr: "given 2 times"},
		{name: "bad form escape", contentType: "application/x-www-form-urlencoded", body: "a=%zz", wantErr: "decode form"},
		{name: "empty form key", contentType: "application/x-www-form-urlencoded", body: "=x", wantErr: "empty field name"},
		{name: "unsupported content type", contentType: "text/xml", body: "<a/>", wantErr: "unsupported content type"},
		{name: "malformed content type", contentType: "application/json; =", body: `{}`, wantErr: "content type"},
		{name: "oversized", contentType: "application/json",
			body: `{"a":"` + strings.Repeat("x", MaxBodySize) + `"}`, wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBody(tt.contentType, strings.NewReader(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseBodyTooLargeIsTyped(t *testing.T) {
	_, err := parseBody("", strings.NewReader(strings.Repeat("a", MaxBodySize+1)))
	if !errors.Is(err, errBodyTooLarge) {
		t.Fatalf("err = %v, want errBodyTooLarge", err)
	}
	if _, err := parseBody("", strings.NewReader("a="+strings.Repeat("b", MaxBodySize-2))); err != nil {
		t.Fatalf("a body of exactly MaxBodySize: %v", err)
	}
}

// FuzzParseBody: any body either fails cleanly or yields named fields that
// survive a round trip through form encoding (the form they are signed in).
func FuzzParseBody(f *testing.F) {
	f.Add("application/json", []byte(`{"appid":"a","page":1,"sign":"x"}`))
	f.Add("application/x-www-form-urlencoded", []byte("appid=a&device_code=CT0700026&sign=x"))
	f.Add("", []byte(`{"a":1e3,"b":"\u00e9"}`))
	f.Add("", []byte("a=%E4%BD%A0&b="))
	f.Add("multipart/form-data; boundary=x", []byte("--x--"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		fields, err := parseBody(contentType, strings.NewReader(string(body)))
		if err != nil {
			return
		}
		v := url.Values{}
		for k, x := range fields {
			if k == "" {
				t.Fatal("empty field name accepted")
			}
			v.Set(k, x)
		}
		again, err := parseBody("application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
		if len(fields) == 0 {
			return // "{}" has no form encoding
		}
		if err != nil {
			t.Fatalf("re-parse %q: %v", v.Encode(), err)
		}
		if !maps.Equal(fields, again) {
			t.Fatalf("round trip changed %v into %v", fields, again)
		}
	})
}
