package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"casefleet/agent/agenttest"
)

// The agent's listener cuts off a client trickling a body (slowloris)
// within seconds, while a phone uploading a photo slowly is served and a
// live events WebSocket stays open throughout.
func TestTheAgentCutsASlowBodyButNotASlowPhone(t *testing.T) {
	k := startKiosk(t, []string{"--pay-seconds", "-1"})
	k.waitOnline()
	phone := agenttest.NewCustomer(t, k.api)
	product := phone.FirstProduct(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	// A live stream, open from before the slow clients to after them.
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(k.api, "http")+"/events?sessionId="+phone.SessionID, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	events := make(chan string, 64)
	go func() {
		defer close(events)
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				return
			}
			events <- string(b)
		}
	}()

	// The hostile client: POST /session declaring 100,000 bytes, sending
	// one a second.
	cut := make(chan time.Duration, 1)
	go func() {
		conn, err := net.Dial("tcp", k.lanAddr)
		if err != nil {
			t.Error(err)
			cut <- 0
			return
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "POST /api/chitu/machine/%s/session HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", code, k.lanAddr)
		go func() {
			for range time.Tick(time.Second) {
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}()
		_ = conn.SetReadDeadline(start.Add(25 * time.Second))
		if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
			_, err = io.Copy(io.Discard, resp.Body) // the agent closes after answering
			if err != nil {
				t.Errorf("slow body: %v after %v", err, time.Since(start))
			}
		}
		cut <- time.Since(start)
	}()

	// A phone on a poor link: a 130 kB photo at 10 KiB/s, 13 s in all.
	body, contentType := noisyPrintRequest(t, phone.SessionID, product)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.api+"/print", &pacedReader{r: bytes.NewReader(body), chunk: 1 << 10, gap: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", contentType)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("slow upload: %v", err)
	}
	var o agenttest.Order
	agenttest.MustJSON(t, resp, &o)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("slow upload: %s after %v", resp.Status, time.Since(start))
	}
	t.Logf("a %d-byte upload at 10 KiB/s took %v", len(body), time.Since(start).Round(time.Millisecond))

	took := <-cut
	if took == 0 || took >= 25*time.Second {
		t.Fatalf("the slow body was still open after %v", took)
	}
	if took > 15*time.Second {
		t.Errorf("the slow body was cut only after %v, want about 10 s", took)
	}
	t.Logf("the slow body was cut after %v", took.Round(time.Millisecond))

	for ev := range events {
		if strings.Contains(ev, o.ID) {
			return // the stream lived through it all
		}
	}
	t.Fatal("the events stream ended before telling of the order")
}

// noisyPrintRequest is a multipart order with a photo that does not
// compress (about 130 kB).
func noisyPrintRequest(t *testing.T, session, product string) ([]byte, string) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 180, 180))
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(rnd.Uint32())
	}
	img.Set(0, 0, color.NRGBA{A: 255})
	var photo bytes.Buffer
	if err := png.Encode(&photo, img); err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("sessionId", session)
	_ = mw.WriteField("productId", product)
	fw, _ := mw.CreateFormFile("image", "photo.png")
	_, _ = fw.Write(photo.Bytes())
	_ = mw.Close()
	return body.Bytes(), mw.FormDataContentType()
}

// pacedReader gives at most chunk bytes per read, one read per gap: a
// slow uplink.
type pacedReader struct {
	r     io.Reader
	chunk int
	gap   time.Duration
	next  time.Time
}

func (p *pacedReader) Read(b []byte) (int, error) {
	time.Sleep(time.Until(p.next)) // the link's pace is what is tested
	p.next = time.Now().Add(p.gap)
	return p.r.Read(b[:min(len(b), p.chunk)])
}
