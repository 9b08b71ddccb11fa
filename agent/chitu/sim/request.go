package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
)

// MaxBodySize bounds an open-API request body.
const MaxBodySize = 1 << 20

// errBodyTooLarge is returned (wrapped) by parseBody for a body over
// MaxBodySize.
var errBodyTooLarge = errors.New("request body too large")

// parseBody reads an open-API request body, JSON or form-encoded, into its
// fields as plain text: the form in which they are signed. The content type
// decides; without one, a body starting with '{' is JSON. JSON values must
// be strings or numbers (numbers keep their literal text); a field given
// twice in a form is refused, as its signature would be ambiguous.
func parseBody(contentType string, body io.Reader) (map[string]string, error) {
	data, err := io.ReadAll(io.LimitReader(body, MaxBodySize+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(data) > MaxBodySize {
		return nil, fmt.Errorf("%w: over %d bytes", errBodyTooLarge, MaxBodySize)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("empty body")
	}
	mediaType := ""
	if contentType != "" {
		if mediaType, _, err = mime.ParseMediaType(contentType); err != nil {
			return nil, fmt.Errorf("content type %q: %w", contentType, err)
		}
	}
	switch {
	case mediaType == "application/json", mediaType == "" && trimmed[0] == '{':
		return parseJSONFields(trimmed)
	case mediaType == "application/x-www-form-urlencoded", mediaType == "":
		return parseFormFields(string(trimmed))
	}
	return nil, fmt.Errorf("unsupported content type %q", mediaType)
}

func parseJSONFields(data []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("decode JSON body: %w", err)
	}
	if raw == nil {
		return nil, errors.New("JSON body is not an object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON object")
	}
	fields := make(map[string]string, len(raw))
	for k, v := range raw {
		if k == "" {
			return nil, errors.New("empty field name")
		}
		switch v := v.(type) {
		case string:
			fields[k] = v
		case json.Number:
			fields[k] = v.String()
		default:
			return nil, fmt.Errorf("field %q: want a string or a number", k)
		}
	}
	return fields, nil
}

func parseFormFields(data string) (map[string]string, error) {
	values, err := url.ParseQuery(data)
	if err != nil {
		return nil, fmt.Errorf("decode form body: %w", err)
	}
	fields := make(map[string]string, len(values))
	for k, vs := range values {
		if k == "" {
			return nil, errors.New("empty field name")
		}
		if len(vs) != 1 {
			return nil, fmt.Errorf("field %q given %d times", k, len(vs))
		}
		fields[k] = vs[0]
	}
	return fields, nil
}
