//go:build linux

package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// A minimal W3C WebDriver client (https://www.w3.org/TR/webdriver2/) over
// net/http, enough to drive WebKitGTK's WebKitWebDriver through a
// customer's journey: sessions, the window's size, navigation, elements,
// clicks, keys (a file's path into <input type=file> too), scripts and
// screenshots. Every command answers {"value": ...}; a failed one
// {"value": {"error", "message", "stacktrace"}}, returned as *wdError.

// wdElementKey is the key of a web element reference in JSON.
const wdElementKey = "element-6066-11e4-a52e-4f735466cecf"

// Keys as WebDriver spells them (the spec's "keyboard actions" table).
const (
	wdTab   = "\uE004"
	wdEnter = "\uE007"
	wdShift = "\uE008"
	wdLeft  = "\uE012"
	wdUp    = "\uE013"
	wdRight = "\uE014"
	wdDown  = "\uE015"
)

// wdError is a command the remote end refused, with its WebDriver error
// code ("no such element", "javascript error", ...) and message.
type wdError struct {
	Command    string // "POST /session/{id}/element"
	HTTPStatus int
	Code       string
	Message    string
}

func (e *wdError) Error() string {
	return fmt.Sprintf("webdriver %s: %s (HTTP %d): %s", e.Command, e.Code, e.HTTPStatus, e.Message)
}

// wdSession is one WebDriver session: one browser window.
type wdSession struct {
	base    string // http://host:port
	id      string
	client  *http.Client
	timeout time.Duration // for each command
}

// wdElement is a web element reference.
type wdElement string

func (e wdElement) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{wdElementKey: string(e)})
}

// wdRect is a window's or an element's rectangle (CSS pixels).
type wdRect struct {
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// wdCommand sends one command to base and decodes the answer's value into
// out (when not nil).
func wdCommand(client *http.Client, timeout time.Duration, method, url, label string, body, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("webdriver %s: %w", label, err)
		}
		r = bytes.NewReader(b)
	} else if method == http.MethodPost {
		r = strings.NewReader("{}") // every POST carries a JSON object
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return fmt.Errorf("webdriver %s: %w", label, err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webdriver %s: %w", label, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("webdriver %s: read the answer: %w", label, err)
	}
	var answer struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return &wdError{Command: label, HTTPStatus: resp.StatusCode, Code: "unreadable answer", Message: fmt.Sprintf("%.300s", raw)}
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(answer.Value, &e)
		if e.Error == "" {
			e.Error, e.Message = "unknown error", fmt.Sprintf("%.300s", raw)
		}
		return &wdError{Command: label, HTTPStatus: resp.StatusCode, Code: e.Error, Message: e.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(answer.Value, out); err != nil {
		return fmt.Errorf("webdriver %s: decode %.200s: %w", label, answer.Value, err)
	}
	return nil
}

// wdStatus reports whether the remote end at base is ready for a new
// session.
func wdStatus(base string) (bool, error) {
	var st struct {
		Ready   bool   `json:"ready"`
		Message string `json:"message"`
	}
	err := wdCommand(http.DefaultClient, 5*time.Second, http.MethodGet, base+"/status", "GET /status", nil, &st)
	return st.Ready, err
}

// wdNewSession starts a session with the capabilities to always match.
// Starting the browser can take long on a loaded machine: timeout bounds
// it and every later command.
func wdNewSession(base string, alwaysMatch map[string]any, timeout time.Duration) (*wdSession, error) {
	s := &wdSession{base: base, client: &http.Client{}, timeout: timeout}
	var created struct {
		SessionID    string         `json:"sessionId"`
		Capabilities map[string]any `json:"capabilities"`
	}
	err := wdCommand(s.client, timeout, http.MethodPost, base+"/session", "POST /session",
		map[string]any{"capabilities": map[string]any{"alwaysMatch": alwaysMatch}}, &created)
	if err != nil {
		return nil, err
	}
	if created.SessionID == "" {
		return nil, fmt.Errorf("webdriver POST /session: no session id in the answer")
	}
	s.id = created.SessionID
	return s, nil
}

// do sends a command to the session: path is relative to
// /session/{id}.
func (s *wdSession) do(method, path string, body, out any) error {
	return wdCommand(s.client, s.timeout, method, s.base+"/session/"+s.id+path, method+" /session/{id}"+path, body, out)
}

// Delete ends the session and closes the browser.
func (s *wdSession) Delete() error {
	return wdCommand(s.client, s.timeout, http.MethodDelete, s.base+"/session/"+s.id, "DELETE /session/{id}", nil, nil)
}

// SetWindowRect sizes the window (the browser's chrome included) and
// returns the rectangle the window got.
func (s *wdSession) SetWindowRect(width, height int) (wdRect, error) {
	var r wdRect
	err := s.do(http.MethodPost, "/window/rect", map[string]any{"width": width, "height": height}, &r)
	return r, err
}

// Navigate loads url and waits for it to load (the page load strategy).
func (s *wdSession) Navigate(url string) error {
	return s.do(http.MethodPost, "/url", map[string]string{"url": url}, nil)
}

// Refresh reloads the page.
func (s *wdSession) Refresh() error {
	return s.do(http.MethodPost, "/refresh", nil, nil)
}

// Title is the document's title.
func (s *wdSession) Title() (string, error) {
	var title string
	err := s.do(http.MethodGet, "/title", nil, &title)
	return title, err
}

// Source is the page's DOM serialized.
func (s *wdSession) Source() (string, error) {
	var src string
	err := s.do(http.MethodGet, "/source", nil, &src)
	return src, err
}

// FindElement finds the first element matching a CSS selector.
func (s *wdSession) FindElement(css string) (wdElement, error) {
	var ref map[string]string
	if err := s.do(http.MethodPost, "/element", map[string]string{"using": "css selector", "value": css}, &ref); err != nil {
		return "", err
	}
	return wdElement(ref[wdElementKey]), nil
}

// FindElements finds every element matching a CSS selector.
func (s *wdSession) FindElements(css string) ([]wdElement, error) {
	var refs []map[string]string
	if err := s.do(http.MethodPost, "/elements", map[string]string{"using": "css selector", "value": css}, &refs); err != nil {
		return nil, err
	}
	out := make([]wdElement, len(refs))
	for i, r := range refs {
		out[i] = wdElement(r[wdElementKey])
	}
	return out, nil
}

// Click scrolls the element into view and clicks its centre, as the
// mouse would (the driver fails it when another element is on top).
func (s *wdSession) Click(e wdElement) error {
	return s.do(http.MethodPost, "/element/"+string(e)+"/click", nil, nil)
}

// SendKeys focuses the element and types text into it; into an
// <input type=file>, text is the path of the file to choose.
func (s *wdSession) SendKeys(e wdElement, text string) error {
	return s.do(http.MethodPost, "/element/"+string(e)+"/value", map[string]string{"text": text}, nil)
}

// Keys presses and releases each key in turn on whatever has the focus,
// as a keyboard does (the actions API's key input source). A key is one
// character or a key constant (wdTab, wdEnter, ...).
func (s *wdSession) Keys(keys ...string) error {
	return s.KeysWith("", keys...)
}

// KeysWith is Keys with a modifier (wdShift, ...) held down throughout.
func (s *wdSession) KeysWith(modifier string, keys ...string) error {
	var actions []map[string]string
	if modifier != "" {
		actions = append(actions, map[string]string{"type": "keyDown", "value": modifier})
	}
	for _, k := range keys {
		actions = append(actions, map[string]string{"type": "keyDown", "value": k}, map[string]string{"type": "keyUp", "value": k})
	}
	if modifier != "" {
		actions = append(actions, map[string]string{"type": "keyUp", "value": modifier})
	}
	err := s.do(http.MethodPost, "/actions", map[string]any{"actions": []map[string]any{{
		"type": "key", "id": "keyboard", "actions": actions,
	}}}, nil)
	if err != nil {
		return err
	}
	return s.do(http.MethodDelete, "/actions", nil, nil)
}

// Execute runs script as a function body with args (arguments[0], ...)
// and decodes what it returns into out (when not nil). A returned promise
// is awaited.
func (s *wdSession) Execute(out any, script string, args ...any) error {
	if args == nil {
		args = []any{}
	}
	return s.do(http.MethodPost, "/execute/sync", map[string]any{"script": script, "args": args}, out)
}

// ExecuteAsync runs script with args and a last argument, the callback
// that ends it with its result.
func (s *wdSession) ExecuteAsync(out any, script string, args ...any) error {
	if args == nil {
		args = []any{}
	}
	return s.do(http.MethodPost, "/execute/async", map[string]any{"script": script, "args": args}, out)
}

// SetScriptTimeout bounds how long a script may run (async ones until
// their callback).
func (s *wdSession) SetScriptTimeout(d time.Duration) error {
	return s.do(http.MethodPost, "/timeouts", map[string]any{"script": d.Milliseconds()}, nil)
}

// Screenshot is the viewport as a PNG, at the screen's pixel density.
func (s *wdSession) Screenshot() ([]byte, error) {
	return s.png("/screenshot")
}

func (s *wdSession) png(path string) ([]byte, error) {
	var b64 string
	if err := s.do(http.MethodGet, path, nil, &b64); err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("webdriver GET %s: not base64: %w", path, err)
	}
	return b, nil
}
