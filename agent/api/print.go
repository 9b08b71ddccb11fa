package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"casefleet/agent/dispatch"
	"casefleet/agent/printfile"
	"casefleet/agent/queue"
	"casefleet/agent/session"
)

// Field limits of POST .../print.
const (
	maxFieldBytes   = 16 << 10 // sessionId, productId, placement
	maxJSONPrintReq = 64 << 10
	multipartSlack  = 256 << 10 // headers and small fields around the image
)

// printRequest is a parsed POST .../print.
type printRequest struct {
	sessionID string
	productID string
	placement printfile.Placement
	image     []byte // the upload, or
	imageURL  string // an image on an allowed host
}

// hash is what the request asks for (product, placement, image), to tell
// a retry from another order under the same idempotency key. It ignores
// how the body was framed (multipart boundaries, field order).
func (req printRequest) hash() string {
	h := sha256.New()
	placement, _ := json.Marshal(req.placement)
	fmt.Fprintf(h, "product %q\nplacement %s\n", req.productID, placement)
	if req.imageURL != "" {
		fmt.Fprintf(h, "image_url %q\n", req.imageURL)
	} else {
		img := sha256.Sum256(req.image)
		fmt.Fprintf(h, "image %x\n", img)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// print creates an order: the photo is rendered at the template's size
// into the print file, which is written durably before the order is
// queued, so an acknowledged order always has its file.
//
// With an Idempotency-Key header the order is made once per session and
// key: a retry (the answer was lost, the page reloaded) gets the order
// already made, with 200 and Idempotent-Replayed: true; the same key with
// another request is refused with 422.
func (s *Server) print(w http.ResponseWriter, r *http.Request) error {
	key, err := idempotencyKeyOf(r)
	if err != nil {
		return err
	}
	req, err := s.readPrintRequest(w, r)
	if err != nil {
		return err
	}
	sess, err := s.sessionOf(r, req.sessionID)
	if err != nil {
		return err
	}
	if key != "" {
		o, found, err := s.opt.Queue.FindByIdempotencyKey(sess.SessionID, key)
		if err != nil {
			return err
		}
		if found {
			return s.replay(w, o, req.hash())
		}
	}
	// Only an accepted order counts against the session's allowance.
	done, err := s.limits.startOrder(sess.SessionID)
	if err != nil {
		return err
	}
	accepted := false
	defer func() { done(accepted) }()
	if err := s.checkAccepting(); err != nil {
		return err
	}
	release, err := s.reserve()
	if err != nil {
		return err
	}
	defer release()
	if req.productID == "" {
		return newError(http.StatusBadRequest, "product_required", "Choose a phone model (productId).")
	}
	tpl, err := s.opt.Catalog.Template(r.Context(), req.productID)
	switch {
	case isUnknownProduct(err):
		return newError(http.StatusBadRequest, "unknown_product", "This machine does not print that phone model.")
	case err != nil:
		s.log.Warn("print template unavailable", "product", req.productID, "err", err)
		return newError(http.StatusServiceUnavailable, "machine_offline", "The machine's catalogue cannot be read right now. Please try again shortly.").after(30 * time.Second)
	}
	if req.imageURL != "" {
		if req.image, err = s.fetchImage(r.Context(), req.imageURL); err != nil {
			return err
		}
	}
	name, err := s.renderPrintFile(r.Context(), req, tpl)
	if err != nil {
		return err
	}
	o, created, err := s.opt.Queue.EnqueueOnce(queue.Order{
		SessionID:      sess.SessionID,
		MachineCode:    s.opt.MachineCode,
		ProductID:      req.productID,
		PrintFile:      name,
		IdempotencyKey: key,
		RequestHash:    req.hash(),
	})
	if err != nil {
		_ = s.opt.Files.Remove(name)
		if errors.Is(err, queue.ErrQueueFull) {
			return s.queueFull()
		}
		return fmt.Errorf("enqueue order: %w", err)
	}
	if !created { // a retry with the same key overtook this one
		_ = s.opt.Files.Remove(name)
		return s.replay(w, o, req.hash())
	}
	accepted = true
	if _, err := s.opt.Sessions.Update(sess.SessionID, func(ss *session.Session) error {
		ss.OrderID = o.ID
		ss.OrderStatus = sessionOrderStatus(o.Status)
		return nil
	}); err != nil {
		// The order stands; the session merely forgets to point at it.
		s.log.Warn("link order to session", "order", o.ID, "session", sess.SessionID, "err", err)
	}
	s.log.Info("order queued", "order", o.ID, "session", sess.SessionID, "product", req.productID, "position", o.QueuePosition)
	s.opt.Machine.Kick()
	writeJSON(w, http.StatusAccepted, toPublicOrder(o))
	return nil
}

// replay answers a request whose idempotency key already made order o.
func (s *Server) replay(w http.ResponseWriter, o queue.Order, hash string) error {
	if o.RequestHash != hash {
		return newError(http.StatusUnprocessableEntity, "idempotency_key_reused",
			"This Idempotency-Key was already used for a different order. Use a new key for a new order.")
	}
	s.log.Info("order retried", "order", o.ID, "session", o.SessionID)
	w.Header().Set("Idempotent-Replayed", "true")
	writeJSON(w, http.StatusOK, toPublicOrder(o))
	return nil
}

// maxIdempotencyKey bounds an Idempotency-Key (a page sends 22-36 chars).
const maxIdempotencyKey = 255

// idempotencyKeyOf reads the Idempotency-Key header: "" when absent. The
// IETF draft makes it a structured-field string ("..."); a bare token is
// taken too, as most clients send one.
func idempotencyKeyOf(r *http.Request) (string, error) {
	values := r.Header.Values("Idempotency-Key")
	if len(values) == 0 {
		return "", nil
	}
	bad := newError(http.StatusBadRequest, "bad_idempotency_key",
		fmt.Sprintf("Idempotency-Key must be one value of 1 to %d visible ASCII characters.", maxIdempotencyKey))
	if len(values) > 1 {
		return "", bad
	}
	key := values[0]
	if len(key) >= 2 && key[0] == '"' && key[len(key)-1] == '"' {
		key = key[1 : len(key)-1]
	}
	if key == "" || len(key) > maxIdempotencyKey {
		return "", bad
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e || key[i] == '"' || key[i] == '\\' {
			return "", bad
		}
	}
	return key, nil
}

// checkAccepting refuses orders early when the machine is offline or the
// queue is full, before any expensive work. Enqueue checks the cap again.
func (s *Server) checkAccepting() error {
	st, err := s.opt.Machine.Status()
	if err != nil {
		return err
	}
	if st.Status == dispatch.StateOffline {
		return newError(http.StatusServiceUnavailable, "machine_offline", "This machine is offline right now. Please try again in a few minutes or use another machine.").after(time.Minute)
	}
	if st.QueueLength >= s.opt.MaxOrders {
		return s.queueFull()
	}
	return nil
}

// reserve holds a place against the cap while an order's print file is
// rendered, so a burst of customers is turned away at once instead of
// waiting for renders that cannot end in an order. Enqueue still decides.
func (s *Server) reserve() (release func(), err error) {
	st, err := s.opt.Machine.Status()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.QueueLength+s.preparing >= s.opt.MaxOrders {
		return nil, s.queueFull()
	}
	s.preparing++
	return func() {
		s.mu.Lock()
		s.preparing--
		s.mu.Unlock()
	}, nil
}

func (s *Server) queueFull() error {
	retry := time.Minute
	if st, err := s.opt.Machine.Status(); err == nil && st.QueueLength > 0 {
		// One order's cycle frees a place.
		retry = max(time.Duration(st.EstimatedWaitSeconds/st.QueueLength)*time.Second, 30*time.Second)
	}
	return newError(http.StatusServiceUnavailable, "queue_full", fmt.Sprintf("This machine's queue is full (%d orders). Please try again later.", s.opt.MaxOrders)).after(retry)
}

func (s *Server) renderPrintFile(ctx context.Context, req printRequest, tpl *printfile.Template) (string, error) {
	select {
	case s.renders <- struct{}{}:
		defer func() { <-s.renders }()
	case <-ctx.Done():
		return "", ctx.Err()
	}
	img, _, err := printfile.Decode(bytes.NewReader(req.image), s.opt.ImageLimits)
	if err != nil {
		return "", imageError(err)
	}
	out := printfile.Render(img, tpl, req.placement)
	opt := printfile.EncodeOptions{Format: s.opt.PrintFormat, Rotate90: s.opt.Rotate90}
	name, err := s.opt.Files.Create(s.opt.PrintFormat.Ext(), func(w io.Writer) error {
		return printfile.Encode(w, out, opt)
	})
	if err != nil {
		return "", fmt.Errorf("write print file: %w", err)
	}
	return name, nil
}

func imageError(err error) error {
	switch {
	case errors.Is(err, printfile.ErrTooLarge):
		return newError(http.StatusRequestEntityTooLarge, "too_large", "The photo file is too large.")
	case errors.Is(err, printfile.ErrTooManyPixels):
		return newError(http.StatusRequestEntityTooLarge, "too_many_pixels", "The photo has too many pixels.")
	case errors.Is(err, printfile.ErrNotImage):
		return newError(http.StatusUnsupportedMediaType, "not_an_image", "That file is not a JPEG, PNG or WebP photo.")
	case errors.Is(err, printfile.ErrTruncated):
		return newError(http.StatusBadRequest, "truncated_image", "The photo arrived incomplete. Please upload it again.")
	}
	return newError(http.StatusBadRequest, "bad_image", "The photo could not be read.")
}

// readPrintRequest parses either body form of POST .../print.
func (s *Server) readPrintRequest(w http.ResponseWriter, r *http.Request) (printRequest, error) {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mediaType = ""
	}
	switch mediaType {
	case "multipart/form-data":
		return s.readMultipart(w, r)
	case "application/json":
		return s.readJSONPrint(w, r)
	}
	return printRequest{}, newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "Send multipart/form-data with an image, or JSON with an image_url.")
}

func (s *Server) readMultipart(w http.ResponseWriter, r *http.Request) (printRequest, error) {
	maxImage := s.opt.ImageLimits.MaxBytes
	r.Body = http.MaxBytesReader(w, r.Body, maxImage+multipartSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		return printRequest{}, newError(http.StatusBadRequest, "bad_multipart", "The upload is not valid multipart/form-data.")
	}
	var req printRequest
	var placement []byte
	seenImage := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return printRequest{}, bodyError(err, "The upload is not valid multipart/form-data.")
		}
		switch name := part.FormName(); name {
		case "image":
			if seenImage {
				return printRequest{}, newError(http.StatusBadRequest, "bad_multipart", "Send one image.")
			}
			seenImage = true
			if req.image, err = readLimited(part, maxImage); err != nil {
				return printRequest{}, err
			}
		case "sessionId", "productId", "placement":
			v, err := readLimited(part, maxFieldBytes)
			if err != nil {
				return printRequest{}, err
			}
			switch name {
			case "sessionId":
				req.sessionID = strings.TrimSpace(string(v))
			case "productId":
				req.productID = strings.TrimSpace(string(v))
			case "placement":
				placement = v
			}
		default:
			return printRequest{}, newError(http.StatusBadRequest, "bad_multipart", fmt.Sprintf("Unexpected field %q.", name))
		}
	}
	if !seenImage || len(req.image) == 0 {
		return printRequest{}, newError(http.StatusBadRequest, "image_required", "Attach a photo (field image).")
	}
	if req.placement, err = parsePlacement(placement); err != nil {
		return printRequest{}, err
	}
	return req, nil
}

func (s *Server) readJSONPrint(w http.ResponseWriter, r *http.Request) (printRequest, error) {
	var body struct {
		ImageURL  string          `json:"image_url"`
		SessionID string          `json:"sessionId"`
		ProductID string          `json:"productId"`
		Placement json.RawMessage `json:"placement"`
	}
	if err := decodeJSON(w, r, maxJSONPrintReq, &body, false); err != nil {
		return printRequest{}, err
	}
	if body.ImageURL == "" {
		return printRequest{}, newError(http.StatusBadRequest, "image_required", "Give an image_url, or upload the photo as multipart/form-data.")
	}
	p, err := parsePlacement(body.Placement)
	if err != nil {
		return printRequest{}, err
	}
	return printRequest{sessionID: body.SessionID, productID: body.ProductID, placement: p, imageURL: body.ImageURL}, nil
}

func parsePlacement(b []byte) (printfile.Placement, error) {
	if len(b) == 0 || string(b) == "null" {
		return printfile.DefaultPlacement(), nil
	}
	p, err := printfile.ParsePlacement(b)
	if err != nil {
		return printfile.Placement{}, newError(http.StatusBadRequest, "bad_placement", err.Error())
	}
	return p, nil
}

// readLimited reads all of r, refusing more than limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, bodyError(err, "The upload was cut short.")
	}
	if int64(len(b)) > limit {
		return nil, newError(http.StatusRequestEntityTooLarge, "too_large", "The upload is too large.")
	}
	return b, nil
}

func bodyError(err error, message string) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return newError(http.StatusRequestEntityTooLarge, "too_large", "The upload is too large.")
	}
	return newError(http.StatusBadRequest, "bad_request", message)
}

// fetchImage downloads an image_url from an allowed host.
func (s *Server) fetchImage(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, newError(http.StatusBadRequest, "bad_image_url", "image_url is not an absolute URL.")
	}
	if err := s.allowedImageURL(u); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, newError(http.StatusBadRequest, "bad_image_url", "image_url is not usable.")
	}
	resp, err := s.imageGet.Do(req)
	var refused *apiError
	if errors.As(err, &refused) {
		// A redirect to a host or scheme not allowed (checkRedirect): the
		// request's fault, not an unreachable image.
		s.log.Info("image_url redirect refused", "url", u.Redacted(), "err", err)
		return nil, refused
	}
	if err != nil {
		s.log.Warn("fetch image_url", "url", u.Redacted(), "err", err)
		return nil, newError(http.StatusBadGateway, "image_unreachable", "The image could not be downloaded.")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, newError(http.StatusBadGateway, "image_unreachable", "The image could not be downloaded ("+resp.Status+").")
	}
	return readLimited(resp.Body, s.opt.ImageLimits.MaxBytes)
}

// allowedImageURL accepts https URLs on an allowed host (plain http only
// for loopback hosts, as in tests and the demo).
func (s *Server) allowedImageURL(u *url.URL) error {
	host := u.Hostname()
	if !slices.Contains(s.opt.AllowedHosts, host) && !slices.Contains(s.opt.AllowedHosts, u.Host) {
		return newError(http.StatusBadRequest, "image_host_not_allowed", "Images may only come from the approved hosts.")
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return newError(http.StatusBadRequest, "bad_image_url", "image_url must use https.")
	}
	return nil
}

func (s *Server) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return errors.New("too many redirects")
	}
	if err := s.allowedImageURL(req.URL); err != nil {
		return fmt.Errorf("redirect to %s: %w", req.URL.Host, err)
	}
	return nil
}
