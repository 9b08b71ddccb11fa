package chitu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"casefleet/agent/chitu/protocol"
)

// maxResponseBytes bounds how much of an open-API response is read: the
// largest real answer (a full catalogue) is far below it.
const maxResponseBytes = 4 << 20

// fields are a call's body fields besides appid and sign. Each value is a
// string or an int: ints travel as JSON numbers and are signed as their
// decimal text, as the protocol says.
type fields map[string]any

// openAPI is a client of the vendor's signed HTTP open API.
type openAPI struct {
	baseURL string
	appID   string
	secret  string
	form    bool
	timeout time.Duration
	http    *http.Client
}

func newOpenAPI(cfg Config) *openAPI {
	return &openAPI{
		baseURL: cfg.BaseURL,
		appID:   cfg.AppID,
		secret:  cfg.AppSecret,
		form:    cfg.Encoding == EncodingForm,
		timeout: cfg.HTTPTimeout,
		http:    cfg.HTTPClient,
	}
}

// call posts one signed call and decodes the envelope's data into data
// (unless data is nil). A refusal by the platform is a *RejectedError;
// every other failure is a plain error, since the call may have been
// carried out.
func (a *openAPI) call(ctx context.Context, name string, f fields, data any) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := a.newRequest(ctx, name, f)
	if err != nil {
		return err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("chitu %s: %w", name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("chitu %s: read response: %w", name, err)
	}
	if len(body) > maxResponseBytes {
		return fmt.Errorf("chitu %s: response exceeds the %d MiB limit", name, maxResponseBytes>>20)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("chitu %s: HTTP %s: %q", name, resp.Status, snippet(body))
	}
	return decodeResponse(name, body, data)
}

// newRequest builds the signed POST of one call.
func (a *openAPI) newRequest(ctx context.Context, name string, f fields) (*http.Request, error) {
	body, contentType, err := a.encodeBody(f)
	if err != nil {
		return nil, fmt.Errorf("chitu %s: %w", name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		a.baseURL+protocol.PathPrefix+name, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("chitu %s: %w", name, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// encodeBody adds appid and sign to f and encodes the lot.
func (a *openAPI) encodeBody(f fields) (body []byte, contentType string, err error) {
	plain := make(map[string]string, len(f)+2)
	for k, v := range f {
		switch v := v.(type) {
		case string:
			plain[k] = v
		case int:
			plain[k] = strconv.Itoa(v)
		default:
			return nil, "", fmt.Errorf("field %s has unsupported type %T", k, v)
		}
	}
	plain["appid"] = a.appID
	sign := protocol.Sign(plain, a.secret)

	if a.form {
		form := url.Values{}
		for k, v := range plain {
			form.Set(k, v)
		}
		form.Set("sign", sign)
		return []byte(form.Encode()), "application/x-www-form-urlencoded", nil
	}
	obj := make(map[string]any, len(f)+2)
	for k, v := range f {
		obj[k] = v
	}
	obj["appid"] = a.appID
	obj["sign"] = sign
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Keep '&' in URLs as it is rather than \u0026: the same value either
	// way, but the plain form is what the platform's own clients send.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, "", err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), "application/json", nil
}

// decodeResponse reads an open-API answer: a status other than 200 is a
// *RejectedError; otherwise the data goes into data (unless data is nil).
func decodeResponse(name string, body []byte, data any) error {
	var env protocol.Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("chitu %s: decode response %q: %w", name, snippet(body), err)
	}
	if env.Status != protocol.StatusOK {
		return &RejectedError{Call: name, Status: env.Status, Msg: env.Msg}
	}
	if data == nil {
		return nil
	}
	if len(env.Data) == 0 {
		return fmt.Errorf("chitu %s: response has no data", name)
	}
	if err := json.Unmarshal(env.Data, data); err != nil {
		return fmt.Errorf("chitu %s: decode data: %w", name, err)
	}
	return nil
}

// snippet shortens a response body for an error message.
func snippet(body []byte) string {
	const max = 120
	if len(body) <= max {
		return string(body)
	}
	return string(body[:max]) + "…"
}
