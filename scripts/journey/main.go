// Command journey times the customer's phone on throttled networks, the
// real system end to end: the printer simulator, the relay and one kiosk
// agent on loopback, and Debian's headless Chromium at phone size with
// CDP's network emulation. For each network profile, a few times, in a
// fresh browser context: open the kiosk's QR link until the phone models
// show, pick one, choose a 12-megapixel photo, tap Order until the order
// is in line. It prints a Markdown table of medians.
//
// Speed is measured, never asserted: the exit status is non-zero only for
// a broken run (a process that would not start, a page that showed a
// problem, a step that never came). Ctrl-C stops everything it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"casefleet/shared/testenv"
	"casefleet/shared/testenv/chromium"
)

func main() {
	runs := flag.Int("runs", 3, "journeys per network profile")
	bin := flag.String("bin", "", "directory of chitusim, casefleet-agent and casefleet-relay (default: build them afresh)")
	verbose := flag.Bool("v", false, "log each journey")
	flag.Parse()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "journey: --runs must be at least 1")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, *bin, *runs)
	switch {
	case err != nil && ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "journey: interrupted")
		os.Exit(130)
	case err != nil:
		fmt.Fprintln(os.Stderr, "journey:", err)
		os.Exit(1)
	}
}

// errNoChromium skips the bench where no Chromium is installed.
var errNoChromium = errors.New("Chromium is not installed (apt-get install -y chromium)")

func run(ctx context.Context, bin string, runs int) error {
	chromiumPath := chromium.Find()
	if chromiumPath == "" {
		if testenv.Required() {
			return fmt.Errorf("%w, and %s=1", errNoChromium, testenv.RequireVar)
		}
		fmt.Println("*** SKIPPED:", errNoChromium)
		return nil
	}

	dir, err := os.MkdirTemp("", "casefleet-journey-")
	if err != nil {
		return err
	}
	keep := false // a broken run keeps the processes' logs
	defer func() {
		if keep {
			fmt.Fprintln(os.Stderr, "journey: logs and data are in", dir)
			return
		}
		os.RemoveAll(dir)
	}()

	if bin == "" {
		bin = filepath.Join(dir, "bin")
		slog.Info("building the binaries", "dir", bin)
		if err := buildBinaries(bin); err != nil {
			return err
		}
	}
	photo := filepath.Join(dir, "photo.jpg")
	jpeg, err := makePhoto(photoWidth, photoHeight)
	if err != nil {
		return err
	}
	if err := os.WriteFile(photo, jpeg, 0o644); err != nil {
		return err
	}

	sys, err := startSystem(ctx, bin, dir)
	if err != nil {
		keep = true
		return fmt.Errorf("start the system: %w", err)
	}
	defer sys.Stop()

	// One browser for every journey; each journey has a browser context
	// of its own. It stops with ctx, so on Ctrl-C too.
	alloc, stopAlloc := chromedp.NewExecAllocator(ctx, chromium.Options(chromiumPath, filepath.Join(dir, "chromium"))...)
	defer stopAlloc()
	browser, stopBrowser := chromedp.NewContext(alloc)
	defer stopBrowser()
	if err := chromedp.Do(browser); err != nil {
		return fmt.Errorf("start Chromium: %w", err)
	}

	j := journey{browser: browser, url: sys.editorURL(), photo: photo}
	if err := j.warmUp(); err != nil {
		keep = true
		return fmt.Errorf("warm-up: %w", err)
	}
	var rows []row
	for _, p := range profiles {
		var results []result
		for i := range runs {
			r, err := j.run(p)
			if err == nil {
				err = sys.Exited()
			}
			if err != nil {
				keep = ctx.Err() == nil
				return fmt.Errorf("%s, run %d: %w", p.name, i+1, err)
			}
			slog.Info("journey", "profile", p.name, "run", i+1, "models", r.toModels, "inLine", r.toInLine,
				"uploaded", r.uploadBytes, "requests", r.modelRequests, "received", r.modelBytes)
			results = append(results, r)
		}
		rows = append(rows, summarise(p.name, results))
	}

	fmt.Printf("The phone's journey through the relay (390x844, Chromium %s), medians of %d runs each; photo %d x %d, %d bytes:\n\n",
		chromiumVersion(browser), runs, photoWidth, photoHeight, len(jpeg))
	return writeTable(os.Stdout, rows)
}

// chromiumVersion is the browser's product version, for the table's title.
func chromiumVersion(browser context.Context) string {
	ctx, cancel := context.WithTimeout(browser, 5*time.Second)
	defer cancel()
	v, err := chromedp.CallBrowser(ctx, cdpbrowser.GetVersion, cdp.Empty{})
	if err != nil {
		return "?"
	}
	_, version, _ := strings.Cut(v.Product, "/") // "HeadlessChrome/156.0..."
	return version
}
