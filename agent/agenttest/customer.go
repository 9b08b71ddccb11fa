package agenttest

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"testing"
	"time"
)

// Customer plays a phone: it holds a session with one agent and orders
// through the public API, as the web app does.
type Customer struct {
	API       string // the machine's API base, e.g. http://127.0.0.1:7081/api/chitu/machine/CT0700026
	SessionID string
	Client    *http.Client
}

// NewCustomer starts a session on the machine at api.
func NewCustomer(t testing.TB, api string) *Customer {
	t.Helper()
	c := &Customer{API: api, Client: &http.Client{Timeout: 2 * time.Minute}}
	resp, err := c.Client.Post(api+"/session", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("start session: %s", resp.Status)
	}
	var s struct {
		SessionID string `json:"sessionId"`
	}
	MustJSON(t, resp, &s)
	c.SessionID = s.SessionID
	return c
}

// Order is the order shape the API answers with.
type Order struct {
	ID                   string     `json:"id"`
	SessionID            string     `json:"sessionId"`
	MachineCode          string     `json:"machineCode"`
	DeviceID             string     `json:"deviceId"`
	ImageURL             string     `json:"imageUrl"`
	Status               string     `json:"status"`
	Stage                string     `json:"stage"`
	QueuePosition        int        `json:"queuePosition"`
	EstimatedWaitSeconds int        `json:"estimatedWaitSeconds"`
	FailureReason        string     `json:"failureReason"`
	CancelledBy          string     `json:"cancelledBy"`
	PickupCode           string     `json:"pickupCode"`
	CreatedAt            time.Time  `json:"createdAt"`
	StartedAt            *time.Time `json:"startedAt"`
	CompletedAt          *time.Time `json:"completedAt"`
}

// APIError is the error shape the API answers with.
type APIError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// FirstProduct returns the product id of the machine's first phone model.
func (c *Customer) FirstProduct(t testing.TB) string {
	t.Helper()
	resp, err := c.Client.Get(c.API + "/products")
	if err != nil {
		t.Fatal(err)
	}
	var cat struct {
		Brands []struct {
			Models []struct {
				ProductID string `json:"productId"`
			} `json:"models"`
		} `json:"brands"`
	}
	MustJSON(t, resp, &cat)
	if len(cat.Brands) == 0 || len(cat.Brands[0].Models) == 0 {
		t.Fatal("the machine offers no phone models")
	}
	return cat.Brands[0].Models[0].ProductID
}

// PostPrint uploads photo as a new order and returns the raw response.
func (c *Customer) PostPrint(t testing.TB, productID string, photo []byte, placement string) *http.Response {
	t.Helper()
	return c.PostPrintOnce(t, productID, photo, placement, "")
}

// PostPrintOnce is PostPrint with an Idempotency-Key header (none if key
// is empty), as the web app sends it.
func (c *Customer) PostPrintOnce(t testing.TB, productID string, photo []byte, placement, key string) *http.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("sessionId", c.SessionID)
	_ = mw.WriteField("productId", productID)
	if placement != "" {
		_ = mw.WriteField("placement", placement)
	}
	fw, err := mw.CreateFormFile("image", "photo.png")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(photo)
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, c.API+"/print", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// Order places an order that must be accepted (202) and returns it.
func (c *Customer) Order(t testing.TB, productID string) Order {
	t.Helper()
	resp := c.PostPrint(t, productID, Photo(t, 640, 480), `{"scale":1.1,"rotation":0,"offset":{"x":0,"y":0}}`)
	if resp.StatusCode != http.StatusAccepted {
		var e APIError
		MustJSON(t, resp, &e)
		t.Fatalf("order: %s: %+v", resp.Status, e.Error)
	}
	var o Order
	MustJSON(t, resp, &o)
	return o
}

// Get reads one of the customer's orders.
func (c *Customer) Get(t testing.TB, id string) Order {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.API+"/queue/"+id, nil)
	req.Header.Set("X-Session-Id", c.SessionID)
	resp, err := c.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get order %s: %s", id, resp.Status)
	}
	var o Order
	MustJSON(t, resp, &o)
	return o
}

// WaitStatus polls the order until its status is want (or fails the test).
func (c *Customer) WaitStatus(t testing.TB, id, want string, within time.Duration) Order {
	t.Helper()
	var o Order
	Eventually(t, within, "order "+id+" reaches "+want, func() bool {
		o = c.Get(t, id)
		return o.Status == want
	})
	return o
}

// Photo is a PNG photo of w x h with a recognisable pattern.
func Photo(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// DecodeJSON is json.Unmarshal that fails the test.
func DecodeJSON(t testing.TB, b []byte, out any) {
	t.Helper()
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("decode %.200s: %v", b, err)
	}
}
