package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// maxAttempts is how often one notice is tried when the push service
// fails for a while (429, 5xx, no answer).
const maxAttempts = 3

// errGone: the push service says the subscription no longer exists.
var errGone = errors.New("subscription gone")

// temporaryError is a failure worth trying again after a pause.
type temporaryError struct {
	err   error
	after time.Duration // the service's Retry-After, if any
}

func (e *temporaryError) Error() string { return e.err.Error() }
func (e *temporaryError) Unwrap() error { return e.err }

// deliver sends one notice, trying again after temporary failures, and
// forgets the subscription when the push service says it is gone.
func (s *Service) deliver(ctx context.Context, n notice) {
	log := s.log.With("session", n.rec.SessionID, "order", n.order.ID, "kind", n.kind)
	body, err := json.Marshal(s.payload(n))
	if err != nil {
		log.Error("encode push payload", "err", err)
		return
	}
	pause := s.opt.RetryDelay
	for attempt := 1; ; attempt++ {
		err = s.send(ctx, n, body)
		var temp *temporaryError
		switch {
		case err == nil:
			log.Info("push notice sent", "attempt", attempt)
			return
		case errors.Is(err, errGone):
			log.Info("push subscription gone; forgetting it", "err", err)
			if err := s.store.delete(n.rec.SessionID, n.rec.Endpoint); err != nil {
				log.Warn("forget push subscription", "err", err)
			}
			return
		case errors.As(err, &temp) && attempt < maxAttempts:
			wait := max(pause, min(temp.after, time.Minute))
			log.Debug("push notice failed; trying again", "attempt", attempt, "wait", wait, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			pause *= 4
		default:
			log.Warn("push notice not delivered", "attempt", attempt, "err", err)
			return
		}
	}
}

// send makes one attempt to deliver body (RFC 8030 §5).
func (s *Service) send(ctx context.Context, n notice, body []byte) error {
	endpoint, err := url.Parse(n.rec.Endpoint)
	if err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	// The rule may have tightened since the customer subscribed.
	if err := CheckEndpoint(n.rec.Endpoint, s.opt.AllowedHosts); err != nil {
		return err
	}
	sealed, err := encrypt(body, n.rec.P256DH, n.rec.Auth)
	if err != nil {
		return err
	}
	now := s.opt.Now()
	auth, err := s.key.authorization(endpoint, s.opt.Subject, now)
	if err != nil {
		return err
	}
	// What is left of the notice's useful life, so a phone that comes back
	// online late does not show a stale call to pay.
	ttl := max(ttlOf(n.kind)-now.Sub(n.at), time.Second)
	urgency := "high"
	if n.kind == KindFailed {
		urgency = "normal"
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.String(), bytes.NewReader(sealed))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Encoding", "aes128gcm")
	req.Header.Set("Authorization", auth)
	req.Header.Set("TTL", strconv.Itoa(int(ttl/time.Second)))
	req.Header.Set("Urgency", urgency)
	// A later notice for the same order replaces one not yet delivered.
	req.Header.Set("Topic", n.order.ID)

	resp, err := s.opt.Client.Do(req)
	if err != nil {
		return &temporaryError{err: err}
	}
	defer resp.Body.Close()
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	failure := fmt.Errorf("push service answered %s: %.200s", resp.Status, detail)
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return fmt.Errorf("%w: %w", errGone, failure)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return &temporaryError{err: failure, after: retryAfter(resp.Header.Get("Retry-After"))}
	}
	return failure
}

// retryAfter reads a Retry-After header in seconds (0 when absent or not a
// number of seconds).
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
