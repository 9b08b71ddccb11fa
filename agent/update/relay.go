package update

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"casefleet/shared/release"
	"casefleet/shared/tunnel"
)

// Relay sends the agent's requests to the relay's update API: the
// tunnel's *tunnel.RelayClient, or in tests any http.Handler behind a
// client.
type Relay interface {
	Do(*http.Request) (*http.Response, error)
}

// The relay's update API (docs/updates.md).
const (
	pathUpdate   = "/relay/v1/update"
	pathReleases = "/relay/v1/releases/"
	pathReport   = "/relay/v1/update/report"
)

// States of an update, as reported to the relay and shown to operators.
const (
	StateDownloading = "downloading" // fetching the package
	StateReady       = "ready"       // verified, waiting for an empty line
	StateInstalling  = "installing"  // handed to the installer
	StateHealthy     = "healthy"     // installed and healthy
	StateFailed      = "failed"      // not installed (bad signature, hash, disk...)
	StateRolledBack  = "rolled_back" // installed, not healthy, the previous version back
)

// Shown only, never reported: updates are off, or the agent runs what the
// relay wants it to.
const (
	StateOff     = "off"
	StateCurrent = "current"
)

// offer is the relay's answer to GET /relay/v1/update.
type offer struct {
	Target    string `json:"target"`
	Manifest  string `json:"manifest"`
	Downgrade bool   `json:"downgrade"`
	Reason    string `json:"reason"` // why the machine stays, when Target is ""
}

// report is the body of POST /relay/v1/update/report.
type report struct {
	Version string `json:"version"`
	From    string `json:"from"`
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
}

// maxReason bounds a reported reason: the relay takes reports of up to
// 4 KiB.
const maxReason = 1000

// maxOffer bounds the relay's answer: a signed manifest and a little more.
const maxOffer = 2*release.MaxSignedSize + 4<<10

// errWait is wrapped by errors that end a step without failing it: there
// is no tunnel right now, and the step is taken again at the next
// connection.
var errWait = errors.New("no tunnel to the relay: trying again when it is back")

func waitOr(err error) error {
	if errors.Is(err, tunnel.ErrNotConnected) {
		return fmt.Errorf("%w: %w", errWait, err)
	}
	return err
}

func (u *Updater) get(ctx context.Context, path string, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://relay"+path, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := u.opt.Relay.Do(req)
	if err != nil {
		return nil, waitOr(err)
	}
	return resp, nil
}

// ask asks the relay which version this agent should run.
func (u *Updater) ask(ctx context.Context) (offer, error) {
	q := url.Values{"version": {u.opt.Version}, "platform": {u.platform}}
	resp, err := u.get(ctx, pathUpdate+"?"+q.Encode(), nil)
	if err != nil {
		return offer{}, fmt.Errorf("ask the relay for updates: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return offer{}, fmt.Errorf("ask the relay for updates: %s", statusText(resp))
	}
	var o offer
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxOffer))
	if err := dec.Decode(&o); err != nil {
		return offer{}, fmt.Errorf("ask the relay for updates: unreadable answer: %w", err)
	}
	return o, nil
}

// fetchManifest downloads a release's signed manifest.
func (u *Updater) fetchManifest(ctx context.Context, version string) ([]byte, error) {
	resp, err := u.get(ctx, releasePath(version, ManifestFile), nil)
	if err != nil {
		return nil, fmt.Errorf("fetch the manifest of %s: %w", version, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch the manifest of %s: %s", version, statusText(resp))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, release.MaxSignedSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch the manifest of %s: %w", version, waitOr(err))
	}
	return b, nil
}

// send posts one report.
func (u *Updater) send(ctx context.Context, r report) error {
	body, _ := json.Marshal(r)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://relay"+pathReport, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := u.opt.Relay.Do(req)
	if err != nil {
		return fmt.Errorf("report %s of %s: %w", r.State, r.Version, waitOr(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("report %s of %s: %s", r.State, r.Version, statusText(resp))
	}
	return nil
}

func releasePath(version, file string) string {
	return pathReleases + url.PathEscape(version) + "/" + url.PathEscape(file)
}

// statusText is a relay's refusal: its status and the start of its body.
func statusText(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	if s := strings.TrimSpace(string(b)); s != "" {
		return "the relay answered " + resp.Status + ": " + s
	}
	return "the relay answered " + resp.Status
}
