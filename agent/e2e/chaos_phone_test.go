package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"sync"
	"time"
)

// chaosPhone is a customer's phone that keeps ordering while the agent is
// killed under it: every call is retried until the agent answers, and an
// order is always placed with an Idempotency-Key, as the web app does, so
// that a retry after a lost answer never makes a second order.
type chaosPhone struct {
	api     string
	client  *http.Client
	product string
	photo   []byte
	session string
	ledger  *ledger
}

// retryPause is how long a phone waits before asking again.
const retryPause = 150 * time.Millisecond

// errRefused is a definite refusal of an order (any 4xx).
var errRefused = errors.New("refused")

// call sends one request (built afresh by newReq for each try) until the
// agent answers with anything but a 5xx, or ctx ends.
func (p *chaosPhone) call(ctx context.Context, newReq func() (*http.Request, error)) (int, []byte, error) {
	for {
		req, err := newReq()
		if err != nil {
			return 0, nil, err
		}
		resp, err := p.client.Do(req.WithContext(ctx))
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode < 500 {
				return resp.StatusCode, body, nil
			}
			if resp.StatusCode >= 500 {
				p.ledger.refused(errorCode(resp.StatusCode, body))
			}
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(retryPause):
		}
	}
}

// start opens the phone's session.
func (p *chaosPhone) start(ctx context.Context) error {
	status, body, err := p.call(ctx, func() (*http.Request, error) {
		return http.NewRequest(http.MethodPost, p.api+"/session", nil)
	})
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("start session: HTTP %d %s", status, body)
	}
	var s struct {
		SessionID string `json:"sessionId"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return err
	}
	p.session = s.SessionID
	return nil
}

// order places one order and returns it once the agent acknowledged it
// (202, or 200 for a retry it had already taken).
func (p *chaosPhone) order(ctx context.Context) (chaosOrder, error) {
	key := rand.Text()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("sessionId", p.session)
	_ = mw.WriteField("productId", p.product)
	_ = mw.WriteField("placement", `{"scale":1.1,"rotation":0,"offset":{"x":0,"y":0}}`)
	fw, _ := mw.CreateFormFile("image", "photo.png")
	_, _ = fw.Write(p.photo)
	_ = mw.Close()
	status, answer, err := p.call(ctx, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, p.api+"/print", bytes.NewReader(body.Bytes()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Idempotency-Key", key)
		return req, nil
	})
	if err != nil {
		return chaosOrder{}, err
	}
	if status != http.StatusAccepted && status != http.StatusOK {
		p.ledger.refused(errorCode(status, answer))
		return chaosOrder{}, fmt.Errorf("%w: HTTP %d %s", errRefused, status, answer)
	}
	var o chaosOrder
	if err := json.Unmarshal(answer, &o); err != nil {
		return chaosOrder{}, err
	}
	o.Session = p.session
	p.ledger.acknowledged(o)
	return o, nil
}

// get reads one of the phone's orders as the agent has it now; found is
// false when the agent answers that there is no such order.
func (p *chaosPhone) get(ctx context.Context, id string) (o chaosOrder, found bool, err error) {
	status, body, err := p.call(ctx, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodGet, p.api+"/queue/"+id, nil)
		if err == nil {
			req.Header.Set("X-Session-Id", p.session)
		}
		return req, err
	})
	switch {
	case err != nil:
		return o, false, err
	case status == http.StatusNotFound:
		return o, false, nil
	case status != http.StatusOK:
		return o, false, fmt.Errorf("get order %s: HTTP %d %s", id, status, body)
	}
	err = json.Unmarshal(body, &o)
	o.Session = p.session
	return o, true, err
}

// shop orders, follows the order until it is settled (terminal, or of
// unknown outcome: the customer would ask the staff), and orders again,
// until ordering ends. An order whose answer is outstanding when ordering
// ends is still retried (under finish) until the agent answers.
func (p *chaosPhone) shop(ordering, finish context.Context) error {
	for ordering.Err() == nil {
		o, err := p.order(finish)
		switch {
		case errors.Is(err, errRefused):
			select {
			case <-ordering.Done():
			case <-time.After(retryPause):
			}
			continue
		case err != nil:
			return err
		}
		for ordering.Err() == nil && !o.settled() {
			select {
			case <-ordering.Done():
			case <-time.After(250 * time.Millisecond):
			}
			if got, found, err := p.get(ordering, o.ID); err == nil && found {
				o = got
			}
		}
	}
	return nil
}

// chaosOrder is an order as the customer API answers it.
type chaosOrder struct {
	ID            string `json:"id"`
	Session       string `json:"-"`
	Status        string `json:"status"`
	Stage         string `json:"stage"`
	FailureReason string `json:"failureReason"`
}

// settled: nothing more happens to the order by itself, or it waits for the
// staff.
func (o chaosOrder) settled() bool {
	switch o.Status {
	case "complete", "failed", "cancelled":
		return true
	}
	return o.Stage == "unknown_outcome"
}

// ledger is what the phones were told: the orders acknowledged to them and
// the refusals they met.
type ledger struct {
	mu      sync.Mutex
	orders  []chaosOrder
	refusal map[string]int
}

func (l *ledger) acknowledged(o chaosOrder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, seen := range l.orders {
		if seen.ID == o.ID {
			return // a replayed answer
		}
	}
	l.orders = append(l.orders, o)
}

func (l *ledger) refused(code string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refusal == nil {
		l.refusal = make(map[string]int)
	}
	l.refusal[code]++
}

func (l *ledger) acked() []chaosOrder {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]chaosOrder(nil), l.orders...)
}

// errorCode names a refusal by the API's error code (or the HTTP status).
func errorCode(status int, body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return fmt.Sprintf("%d %s", status, e.Error.Code)
	}
	return fmt.Sprintf("%d", status)
}
