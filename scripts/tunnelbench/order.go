//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"casefleet/scripts/internal/benchsys"
)

const (
	apiPath    = "/api/chitu/machine/" + benchsys.MachineCode
	statusPath = benchsys.StatusPath
)

// upload is a customer's order as the phone sends it: a 5 MB photo in a
// multipart body, with an Idempotency-Key. The bench sends it once to
// make the order (whose print file the large GET fetches), then again and
// again: the agent reads it whole and answers with the order already
// made, so every upload carries 5 MB and changes nothing.
type upload struct {
	body        []byte
	contentType string
	key         string
}

// placeOrder makes the bench's order through the agent's LAN port and
// returns the upload that made it and the path of its print file.
func placeOrder(ctx context.Context, s *system) (upload, string, error) {
	var products struct {
		Brands []struct {
			Models []struct {
				ProductID string `json:"productId"`
			} `json:"models"`
		} `json:"brands"`
	}
	if err := getJSON(ctx, s.LANURL+apiPath+"/products", &products); err != nil {
		return upload{}, "", err
	}
	if len(products.Brands) == 0 || len(products.Brands[0].Models) == 0 {
		return upload{}, "", errors.New("the machine lists no phone models")
	}
	var session struct {
		SessionID string `json:"sessionId"`
	}
	if err := postJSON(ctx, s.LANURL+apiPath+"/session", &session); err != nil {
		return upload{}, "", err
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("sessionId", session.SessionID)
	mw.WriteField("productId", products.Brands[0].Models[0].ProductID)
	mw.WriteField("placement", `{"scale":1.2,"rotation":0,"offset":{"x":0,"y":0}}`)
	part, _ := mw.CreateFormFile("image", "photo.png")
	if err := png.Encode(part, noise(1300, 1290)); err != nil {
		return upload{}, "", err
	}
	mw.Close()
	up := upload{body: body.Bytes(), contentType: mw.FormDataContentType(), key: "bench-upload-1"}

	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.LANURL+apiPath+"/print", bytes.NewReader(up.body))
	req.Header.Set("Content-Type", up.contentType)
	req.Header.Set("Idempotency-Key", up.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return upload{}, "", err
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return upload{}, "", fmt.Errorf("the bench's order was refused: %d %s", resp.StatusCode, answer)
	}

	// The print file is in the agent's data directory under the name
	// the printer fetches it by.
	deadline := time.Now().Add(30 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(s.AgentDir, "*", "*.tif*"))
		if more, _ := filepath.Glob(filepath.Join(s.AgentDir, "*.tif*")); len(more) > 0 {
			files = append(files, more...)
		}
		if len(files) > 0 {
			return up, apiPath + "/files/" + filepath.Base(files[0]), nil
		}
		if time.Now().After(deadline) {
			return upload{}, "", errors.New("no print file in the agent's data directory")
		}
		time.Sleep(100 * time.Millisecond) // the agent signals nothing outside
	}
}

// noise is a photo that does not compress: a PNG of it is about 5 MB.
func noise(w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			v := r.Uint32()
			img.SetNRGBA(x, y, color.NRGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 255})
		}
	}
	return img
}

func getJSON(ctx context.Context, url string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	return doJSON(req, v)
}

func postJSON(ctx context.Context, url string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	return doJSON(req, v)
}

func doJSON(req *http.Request, v any) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// writeFile writes b to dir/name and returns the path.
func writeFile(dir, name string, b []byte) (string, error) {
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, b, 0o644)
}
