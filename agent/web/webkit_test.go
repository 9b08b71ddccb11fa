//go:build linux

package web_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"casefleet/agent/agenttest"
	"casefleet/shared/testenv"
)

// The customer's journey in WebKit, Safari's engine: Debian's WebKitGTK
// driven through its W3C WebDriver server (WebKitWebDriver), which runs
// the MiniBrowser on an X display of the test's own (Xvfb), at phone size
// (390 x 844 CSS pixels, two device pixels to one).

// webkitTools finds WebKitWebDriver, the MiniBrowser it drives and Xvfb;
// without them the test is skipped loudly, or fails on CI.
func webkitTools(t *testing.T) (driver, miniBrowser, xvfb string) {
	t.Helper()
	var missing []string
	driver, err := exec.LookPath("WebKitWebDriver")
	if err != nil {
		missing = append(missing, "WebKitWebDriver (apt-get install -y webkit2gtk-driver)")
	}
	for _, pattern := range []string{
		os.Getenv("CASEFLEET_MINIBROWSER"), // a MiniBrowser elsewhere
		"/usr/lib/*/webkit2gtk-4.1/MiniBrowser", "/usr/libexec/webkit2gtk-4.1/MiniBrowser",
		"/usr/lib/*/webkitgtk-6.0/MiniBrowser", "/usr/libexec/webkitgtk-6.0/MiniBrowser",
	} {
		if pattern == "" {
			continue
		}
		if found, _ := filepath.Glob(pattern); len(found) > 0 {
			miniBrowser = found[0]
			break
		}
	}
	if miniBrowser == "" {
		missing = append(missing, "WebKitGTK's MiniBrowser (apt-get install -y libwebkit2gtk-4.1-0)")
	}
	xvfb, err = exec.LookPath("Xvfb")
	if err != nil {
		missing = append(missing, "Xvfb (apt-get install -y xvfb)")
	}
	if len(missing) > 0 {
		msg := "\n*** not installed: " + strings.Join(missing, ", ") + "\n"
		if testenv.Required() {
			t.Fatal(msg + "*** " + testenv.RequireVar + "=1, so this is a failure")
		}
		t.Skip(msg + "*** SKIPPING this WebKit test (set " + testenv.RequireVar + "=1 to make it fail)")
	}
	return driver, miniBrowser, xvfb
}

// webkitPhone is a phone-sized WebKit window, driven through WebDriver.
type webkitPhone struct {
	t *testing.T
	s *wdSession
}

// startWebKit starts Xvfb, WebKitWebDriver and a MiniBrowser session at
// phone size; everything stops when the test ends.
func startWebKit(t *testing.T) *webkitPhone {
	t.Helper()
	driver, miniBrowser, xvfbPath := webkitTools(t)
	dir := t.TempDir()

	// Every process of this run carries a marker in its environment
	// (WebKitWebDriver passes its own on to the MiniBrowser, which passes
	// it on to WebKit's processes), so that the end of the test can make
	// sure none is left running.
	marker := "CASEFLEET_WEBKIT_RUN=" + rand.Text()
	t.Cleanup(func() { reapMarked(t, marker) })

	// An X display of the test's own: -displayfd 1 makes Xvfb pick a free
	// display number and print it once it accepts connections.
	x := testenv.StartProcess(t, "Xvfb", xvfbPath, nil, "-displayfd", "1", "-nolisten", "tcp", "-screen", "0", "1600x2000x24")
	display := ""
	number := regexp.MustCompile(`(?m)^(\d+)$`)
	testenv.Eventually(t, 30*time.Second, "Xvfb tells its display number", func() bool {
		select {
		case <-x.Done():
			t.Fatalf("Xvfb exited:\n%s", x.Tail(30))
		default:
		}
		if m := number.FindStringSubmatch(x.Output()); m != nil {
			display = ":" + m[1]
		}
		return display != ""
	})

	// The MiniBrowser's toolbar buttons keep its window at least 447 px
	// wide in GTK's default theme: without their padding a phone's 390 fit.
	config := filepath.Join(dir, "config")
	if err := os.MkdirAll(filepath.Join(config, "gtk-3.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(config, "gtk-3.0", "gtk.css"), []byte("button { min-width: 0; padding: 0; margin: 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	testenv.StartProcess(t, "WebKitWebDriver", driver, []string{
		marker,
		"DISPLAY=" + display, "GDK_BACKEND=x11", "WAYLAND_DISPLAY=",
		"GDK_SCALE=2", // a phone's pixel density: devicePixelRatio 2
		"XDG_CONFIG_HOME=" + config,
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"LANG=C.UTF-8", "LC_ALL=", "LANGUAGE=en_GB:en", // English pages, whoever runs the test
		"NO_AT_BRIDGE=1", // no accessibility bus to wait for
	}, "--host=127.0.0.1", "--port="+port)
	base := "http://" + addr
	testenv.Poll(t, 30*time.Second, 100*time.Millisecond, "WebKitWebDriver answers at "+base, func() bool {
		ready, err := wdStatus(base)
		return err == nil && ready
	})

	// The canvas is drawn by the CPU: WebKitGTK's GPU canvas, on Xvfb's
	// software OpenGL, now and then shows a canvas as blank however often
	// it is redrawn (after a reload, about one time in fifteen), which no
	// phone's Safari does.
	s, err := wdNewSession(base, map[string]any{
		"webkitgtk:browserOptions": map[string]any{"binary": miniBrowser, "args": []string{"--automation", "--enable-2d-canvas-acceleration=false"}},
	}, 2*time.Minute)
	if err != nil {
		t.Fatalf("start a WebKit session: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Delete(); err != nil {
			t.Errorf("end the WebKit session: %v", err)
		}
	})
	p := &webkitPhone{t: t, s: s}
	if err := s.SetScriptTimeout(time.Minute); err != nil {
		t.Fatal(err)
	}

	// The window includes the browser's toolbar: size it so that the page
	// gets a phone's 390 x 844. The page learns of a new size a little
	// after the window has it.
	if _, err := s.SetWindowRect(390, 844); err != nil {
		t.Fatal(err)
	}
	var size struct {
		OuterW, OuterH, W, H int
		DPR                  float64
	}
	measure := func() {
		p.js(&size, `return {OuterW: outerWidth, OuterH: outerHeight, W: innerWidth, H: innerHeight, DPR: devicePixelRatio}`)
	}
	p.until(30*time.Second, func() bool { measure(); return size.OuterW == 390 && size.OuterH == 844 }, func() string {
		return fmt.Sprintf("the window is %d x %d, not 390 x 844 (is the MiniBrowser's toolbar wider?)", size.OuterW, size.OuterH)
	})
	if _, err := s.SetWindowRect(390+390-size.W, 844+844-size.H); err != nil {
		t.Fatal(err)
	}
	p.until(30*time.Second, func() bool { measure(); return size.W == 390 && size.H == 844 && size.DPR == 2 }, func() string {
		return fmt.Sprintf("the page is %d x %d CSS px at %v device px each, want a phone's 390 x 844 at 2", size.W, size.H, size.DPR)
	})
	return p
}

// reapMarked waits for every process carrying marker in its environment
// to end (they follow Xvfb and the driver); any still running is killed
// by its pid and reported.
func reapMarked(t *testing.T, marker string) {
	marked := func() []int {
		var pids []int
		dirs, _ := os.ReadDir("/proc")
		for _, d := range dirs {
			pid, err := strconv.Atoi(d.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			env, err := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
			if err != nil || !bytes.Contains(append(env, 0), []byte(marker+"\x00")) {
				continue
			}
			// A zombie has finished; its parent is not ours to reap.
			if stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat")); err == nil {
				if _, rest, ok := strings.Cut(string(stat), ") "); ok && strings.HasPrefix(rest, "Z") {
					continue
				}
			}
			pids = append(pids, pid)
		}
		return pids
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		left := marked()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Errorf("WebKit processes %v were still running after the test: killed", left)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// js runs a script (a function body; a returned promise is awaited) and
// decodes its result into out, when not nil.
func (p *webkitPhone) js(out any, script string, args ...any) {
	p.t.Helper()
	if err := p.s.Execute(out, script, args...); err != nil {
		p.t.Fatalf("WebKit: %v\nscript: %.300s", err, script)
	}
}

// until polls cond until it holds, failing the test with what failure
// says after within.
func (p *webkitPhone) until(within time.Duration, cond func() bool, failure func() string) {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("WebKit: not within %v: %s", within, failure())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor polls a JavaScript expression until it is true.
func (p *webkitPhone) waitFor(what, expr string, within time.Duration, args ...any) {
	p.t.Helper()
	var lastErr error
	p.until(within, func() bool {
		var ok bool
		lastErr = p.s.Execute(&ok, "return !!("+expr+")", args...)
		return lastErr == nil && ok
	}, func() string {
		return fmt.Sprintf("%s (%s): last error %v\npage: %s\nerrors in the page: %v", what, expr, lastErr, p.describe(), p.pageErrors())
	})
}

// describe is what the page shows, for failure messages.
func (p *webkitPhone) describe() string {
	var v string
	if err := p.s.Execute(&v, `return location.href + ' :: ' + [...document.querySelectorAll('main > .view')].filter(v => !v.hidden).map(v => v.id + ': ' + v.innerText.replace(/\s+/g, ' ').slice(0, 400)).join(' | ')`); err != nil {
		return err.Error()
	}
	return v
}

// view waits until the page shows a view (loading, problem, pick, design,
// status).
func (p *webkitPhone) view(name string, within time.Duration) {
	p.t.Helper()
	p.waitFor("view "+name, `!document.getElementById('v-' + arguments[0]).hidden`, within, name)
}

// text is an element's text as shown, without the marks that isolate
// names in sentences (U+2068, U+2069).
func (p *webkitPhone) text(id string) string {
	p.t.Helper()
	var s string
	p.js(&s, `return document.getElementById(arguments[0]).innerText`, id)
	return strings.NewReplacer("\u2068", "", "\u2069", "").Replace(s)
}

func (p *webkitPhone) find(css string) wdElement {
	p.t.Helper()
	e, err := p.s.FindElement(css)
	if err != nil {
		p.t.Fatalf("WebKit: %s: %v\npage: %s", css, err, p.describe())
	}
	return e
}

// click clicks an element with the mouse.
func (p *webkitPhone) click(css string) {
	p.t.Helper()
	if err := p.s.Click(p.find(css)); err != nil {
		p.t.Fatalf("WebKit: click %s: %v\npage: %s", css, err, p.describe())
	}
}

// keys presses keys on whatever has the focus.
func (p *webkitPhone) keys(keys ...string) {
	p.t.Helper()
	if err := p.s.Keys(keys...); err != nil {
		p.t.Fatalf("WebKit: keys %q: %v", keys, err)
	}
}

// tabTo moves the focus with Tab (Shift+Tab backwards), as a keyboard user
// does, until the element matching css has it.
func (p *webkitPhone) tabTo(css string, backwards bool) {
	p.t.Helper()
	for range 30 {
		var focused bool
		p.js(&focused, `return !!document.activeElement && document.activeElement.matches(arguments[0])`, css)
		if focused {
			return
		}
		var err error
		if backwards {
			err = p.s.KeysWith(wdShift, wdTab)
		} else {
			err = p.s.Keys(wdTab)
		}
		if err != nil {
			p.t.Fatalf("WebKit: Tab: %v", err)
		}
	}
	var at string
	p.js(&at, `const a = document.activeElement; return a ? a.outerHTML.slice(0, 200) : 'nothing'`)
	p.t.Fatalf("WebKit: 30 presses of Tab did not reach %s; the focus is on %s", css, at)
}

// watchErrors makes the page record what would show in its console as a
// problem: uncaught errors, unhandled promise rejections, content security
// policy violations, and console.error and console.warn (the app's own
// reports). Run it after each page load: the record lives in the page.
func (p *webkitPhone) watchErrors() {
	p.t.Helper()
	p.js(nil, `
		if (window.__casefleetErrors) return;
		const seen = window.__casefleetErrors = [];
		addEventListener('error', (e) => {
			if (e instanceof ErrorEvent) seen.push('uncaught ' + (e.error && e.error.stack ? e.error + ' ' + e.error.stack : e.message) + ' at ' + e.filename + ':' + e.lineno);
		});
		addEventListener('unhandledrejection', (e) => {
			const r = e.reason;
			seen.push('unhandled rejection: ' + (r && r.stack ? r + ' ' + r.stack : String(r)));
		});
		document.addEventListener('securitypolicyviolation', (e) => {
			seen.push('content security policy refused ' + e.blockedURI + ' (' + e.violatedDirective + ')');
		});
		for (const level of ['error', 'warn']) {
			const original = console[level];
			console[level] = (...args) => {
				seen.push('console.' + level + ': ' + args.map((a) => (a && a.stack ? a + ' ' + a.stack : String(a))).join(' '));
				original.apply(console, args);
			};
		}`)
}

// pageErrors is what the page recorded since watchErrors, cleared.
func (p *webkitPhone) pageErrors() []string {
	var errs []string
	_ = p.s.Execute(&errs, `const e = window.__casefleetErrors || []; return e.splice(0, e.length)`)
	return errs
}

// noErrors fails the test for every error the page recorded.
func (p *webkitPhone) noErrors(when string) {
	p.t.Helper()
	for _, e := range p.pageErrors() {
		p.t.Errorf("WebKit: %s: %s", when, e)
	}
}

// navigate loads url and starts watching the page for errors.
func (p *webkitPhone) navigate(url string) {
	p.t.Helper()
	if err := p.s.Navigate(url); err != nil {
		p.t.Fatalf("WebKit: open %s: %v", url, err)
	}
	p.watchErrors()
}

// screenshot saves what the phone shows as webkit-NAME.png in the run's
// screenshot directory, once pictures, animations and the preview's next
// frame have settled.
func (p *webkitPhone) screenshot(name string) {
	p.t.Helper()
	p.settle()
	shot, err := p.s.Screenshot()
	if err != nil {
		p.t.Fatalf("WebKit: screenshot %s: %v", name, err)
	}
	saveScreenshot(p.t, "webkit-"+name, shot)
}

func (p *webkitPhone) settle() {
	p.t.Helper()
	p.waitFor("images loaded", `[...document.images].every(i => i.complete)`, 30*time.Second)
	p.waitFor("animations done", `document.getAnimations().every(a => a.playState !== 'running')`, 10*time.Second)
	// Two frames: the one drawing the last change, and the one showing it.
	if err := p.s.ExecuteAsync(nil, `const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)))`); err != nil {
		p.t.Fatalf("WebKit: wait for two frames: %v", err)
	}
}

// webkitPlacement is the editor's placement and what it is of: the
// template's and the photo's size in pixels.
type webkitPlacement struct {
	placement
	W, H, PW, PH float64
}

func (p *webkitPhone) placement() webkitPlacement {
	p.t.Helper()
	var pl webkitPlacement
	p.js(&pl, `return import('casefleet/editor').then((m) => {
		const s = m.snapshot();
		return { ...s.placement, W: s.template.naturalWidth, H: s.template.naturalHeight, PW: s.photo.naturalWidth, PH: s.photo.naturalHeight };
	})`)
	return pl
}

// Colours of the photo's quarters.
var quarterColours = [2][2]color.NRGBA{
	{{215, 35, 35, 255}, {35, 165, 70, 255}},  // top: left red, right green
	{{35, 75, 215, 255}, {240, 200, 35, 255}}, // bottom: left blue, right yellow
}

// quartersPhoto is a w x h JPEG, as a phone's camera makes, in four
// coloured quarters: the preview shows which way up and round it is.
func quartersPhoto(t *testing.T, w, h int) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, quarterColours[min(1, 2*y/h)][min(1, 2*x/w)])
		}
	}
	path := filepath.Join(t.TempDir(), "quarters.jpg")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkPreview checks the preview canvas as WebKit painted it: at points
// of the case well inside one quarter of the photo, as placed, it shows
// that quarter's colour (the placement maths of preview.js, inverted). The
// preview redraws a frame after a change, and again when its box is
// resized: the check waits for a picture that is right.
func (p *webkitPhone) checkPreview(when string) {
	p.t.Helper()
	var (
		problems []string
		shot     []byte
		looks    int
	)
	p.until(20*time.Second, func() bool {
		looks++
		problems, shot = p.previewProblems()
		return len(problems) == 0
	}, func() string {
		saveScreenshot(p.t, "webkit-preview-"+strings.ReplaceAll(when, " ", "-")+"-wrong", shot)
		return fmt.Sprintf("the preview %s, %d looks, the last:\n%s\nerrors in the page: %v", when, looks, strings.Join(problems, "\n"), p.pageErrors())
	})
	if looks > 1 {
		p.t.Logf("WebKit: the preview %s was right at look %d", when, looks)
	}
	saveScreenshot(p.t, "webkit-preview-"+strings.ReplaceAll(when, " ", "-"), shot)
}

// previewProblems compares the preview with the photo as placed; shot is
// the preview as a PNG.
func (p *webkitPhone) previewProblems() (problems []string, shot []byte) {
	p.t.Helper()
	p.settle()
	pl := p.placement()
	// The viewport's screenshot, cut to the canvas. (WebKitGTK's element
	// screenshot misplaces the element at two device pixels per CSS pixel.)
	var rect struct{ X, Y, W, H, VW float64 }
	p.js(&rect, `const r = document.getElementById('preview').getBoundingClientRect(); return {X: r.x, Y: r.y, W: r.width, H: r.height, VW: innerWidth}`)
	full, err := p.s.Screenshot()
	if err != nil {
		p.t.Fatalf("WebKit: screenshot of the preview: %v", err)
	}
	screen, err := png.Decode(bytes.NewReader(full))
	if err != nil {
		p.t.Fatalf("WebKit: the screenshot: %v", err)
	}
	f := float64(screen.Bounds().Dx()) / rect.VW // device pixels per CSS pixel
	crop := image.Rect(int(math.Ceil(rect.X*f)), int(math.Ceil(rect.Y*f)), int((rect.X+rect.W)*f), int((rect.Y+rect.H)*f))
	if !crop.In(screen.Bounds()) || crop.Dx() < 100 {
		return []string{fmt.Sprintf("the preview is at %v, not within the screen %v", crop, screen.Bounds())}, full
	}
	img := screen.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(crop)
	var cut bytes.Buffer
	if err := png.Encode(&cut, img); err != nil {
		p.t.Fatal(err)
	}
	b := img.Bounds()
	cover := math.Max(pl.W/pl.PW, pl.H/pl.PH)
	k := pl.Scale * cover
	sin, cos := math.Sincos(-pl.Rotation * math.Pi / 180)
	sx, sy := 1.0, 1.0
	if pl.FlipX {
		sx = -1
	}
	if pl.FlipY {
		sy = -1
	}
	checked, colours := 0, map[color.NRGBA]bool{}
	// A grid over the case, below the camera hole (top left) and inside
	// its rounded corners.
	for fy := 0.3; fy < 0.91; fy += 0.075 {
		for fx := 0.15; fx < 0.86; fx += 0.07 {
			dx := fx*pl.W - (pl.W/2 + pl.Offset.X*pl.W)
			dy := fy*pl.H - (pl.H/2 + pl.Offset.Y*pl.H)
			u := (cos*dx-sin*dy)/(k*sx)/pl.PW + 0.5 // in the photo, 0..1
			v := (sin*dx+cos*dy)/(k*sy)/pl.PH + 0.5
			// Only points well inside a quarter: not near its edges.
			inside := func(f float64) bool { return f > 0.06 && f < 0.94 && math.Abs(f-0.5) > 0.06 }
			if !inside(u) || !inside(v) {
				continue
			}
			want := quarterColours[int(v*2)][int(u*2)]
			got := color.NRGBAModel.Convert(img.At(b.Min.X+int(fx*float64(b.Dx())), b.Min.Y+int(fy*float64(b.Dy())))).(color.NRGBA)
			if d := math.Sqrt(sq(float64(got.R)-float64(want.R)) + sq(float64(got.G)-float64(want.G)) + sq(float64(got.B)-float64(want.B))); d > 60 {
				problems = append(problems, fmt.Sprintf("at (%.2f, %.2f) of the case it shows %v, want %v of the photo's quarter at (%.2f, %.2f)", fx, fy, got, want, u, v))
			}
			checked++
			colours[want] = true
		}
	}
	if checked < 8 || len(colours) < 3 {
		p.t.Fatalf("WebKit: only %d points in %d quarters of the photo to check (placement %+v)", checked, len(colours), pl)
	}
	if len(problems) > 0 {
		var box string
		p.js(&box, `const c = document.getElementById('preview'), r = c.getBoundingClientRect(), s = c.parentElement;
			return 'canvas ' + c.width + 'x' + c.height + ' at ' + [r.x, r.y, r.width, r.height].join(',') + ', stage ' + s.clientWidth + 'x' + s.clientHeight + ', scrolled ' + scrollY`)
		problems = append(problems, fmt.Sprintf("%s, in the screenshot at %v, placement %+v", box, crop, pl))
	}
	return problems, cut.Bytes()
}

func sq(x float64) float64 { return x * x }

// TestJourneyInWebKit is a customer's visit in Safari's engine: scan the
// QR code, pick a phone, upload a photo, place it with the keyboard and the
// buttons, order, wait in line behind someone, pay when told, collect the
// case; then read the page in Arabic, right to left. On the way the page
// throws no error, and the preview canvas shows the photo as placed.
func TestJourneyInWebKit(t *testing.T) {
	started := time.Now()
	p := startWebKit(t) // skips (or fails on CI) before starting anything else
	t.Logf("WebKit up in %v", time.Since(started).Round(time.Millisecond))
	sim := agenttest.StartSim(t, agenttest.SimOptions{Machines: []string{"CT0700026"}, PayDelay: -1})
	a := startKiosk(t, sim, "CT0700026", "Mall 3F, east escalator", "mall-3f", nil)
	fd := newFrontDoor(t, a)

	// Someone else is at the machine already, yet to pay.
	ahead := agenttest.NewCustomer(t, a.API())
	ahead.Order(t, ahead.FirstProduct(t))
	agenttest.Eventually(t, 30*time.Second, "the first order reaches the machine", func() bool { return len(sim.Orders(t, "CT0700026")) == 1 })

	// The QR code's link: the machine's page, by name, in English.
	p.navigate(fd.editorURL("CT0700026", "mall-3f"))
	p.view("pick", 60*time.Second)
	if got := p.text("kiosk-name"); got != "Mall 3F, east escalator" {
		t.Errorf("WebKit: the header shows %q", got)
	}
	if models, err := p.s.FindElements(`#models button.model img[src*="/assets/show/"]`); err != nil || len(models) == 0 {
		t.Errorf("WebKit: the models show no show_img pictures (%v)", err)
	}
	if title, err := p.s.Title(); err != nil || title != "Print your phone case" {
		t.Errorf("WebKit: the title is %q (%v)", title, err)
	}
	if src, err := p.s.Source(); err != nil || !strings.Contains(src, `id="v-pick"`) {
		t.Errorf("WebKit: the page's source (%v): %.200s", err, src)
	}
	p.noErrors("opening the page")
	p.screenshot("01-pick-phone")

	// Design: an iPhone 15, a photo from the phone's gallery.
	p.click(`#models button[data-product="101"]`)
	p.view("design", 30*time.Second)
	p.waitFor("the model's name", `document.getElementById('design-title').innerText === 'Your iPhone 15 case'`, 10*time.Second)
	photo := quartersPhoto(t, 1600, 1000)
	if err := p.s.SendKeys(p.find("#photo-input"), photo); err != nil {
		t.Fatalf("WebKit: choose the photo: %v", err)
	}
	p.waitFor("the photo is on the case", `document.getElementById('preview').classList.contains('has-photo')`, 30*time.Second)
	if pl := p.placement(); pl.placement != (placement{Scale: 1}) || pl.PW != 1600 || pl.PH != 1000 {
		t.Errorf("WebKit: a fresh photo is placed %+v, want scale 1 of a 1600 x 1000 photo", pl)
	}
	var canvas struct{ Width, CSSWidth float64 }
	p.js(&canvas, `const c = document.getElementById('preview'); return {Width: c.width, CSSWidth: c.getBoundingClientRect().width}`)
	if canvas.CSSWidth < 100 || canvas.Width != math.Round(canvas.CSSWidth*2) {
		t.Errorf("WebKit: the preview canvas is %v px for %v CSS px, want twice as many", canvas.Width, canvas.CSSWidth)
	}
	p.checkPreview("as uploaded")

	// The keyboard: to the preview, move the photo with the arrow keys.
	p.tabTo("#preview", false)
	p.keys(wdRight, wdRight, wdRight)
	p.waitFor("three steps right", `import('casefleet/editor').then(m => Math.abs(m.snapshot().placement.offset.x - 0.03) < 1e-9)`, 10*time.Second)
	// The buttons, reached with Tab and pressed with Enter or Space.
	type step struct {
		button, key string
		check       func(pl webkitPlacement) bool
	}
	for _, s := range []step{
		{`button[data-act="rotate"]`, wdEnter, func(pl webkitPlacement) bool { return pl.Rotation == 90 }},
		{`button[data-act="fit"]`, " ", func(pl webkitPlacement) bool {
			// The whole photo, turned, on the case: its long side spans the
			// case's height, or its short side the width.
			k := math.Min(pl.W/pl.PH, pl.H/pl.PW) / math.Max(pl.W/pl.PW, pl.H/pl.PH)
			return near(pl.Scale, k, 1e-9) && pl.Offset.X == 0 && pl.Offset.Y == 0
		}},
		{`button[data-act="fill"]`, wdEnter, func(pl webkitPlacement) bool {
			k := math.Max(pl.W/pl.PH, pl.H/pl.PW) / math.Max(pl.W/pl.PW, pl.H/pl.PH)
			return near(pl.Scale, k, 1e-9) && pl.Rotation == 90
		}},
	} {
		p.tabTo(s.button, false)
		p.keys(s.key)
		var pl webkitPlacement
		p.until(10*time.Second, func() bool { pl = p.placement(); return s.check(pl) }, func() string {
			return fmt.Sprintf("after pressing %q on %s the placement is %+v", s.key, s.button, pl)
		})
	}
	// Back to the preview with Shift+Tab, off centre, then Centre.
	p.tabTo("#preview", true)
	p.keys(wdLeft, wdUp)
	p.waitFor("moved off centre", `import('casefleet/editor').then(m => m.snapshot().placement.offset.x < 0 && m.snapshot().placement.offset.y < 0)`, 10*time.Second)
	p.tabTo(`button[data-act="center"]`, false)
	p.keys(" ")
	p.waitFor("centred", `import('casefleet/editor').then(m => { const o = m.snapshot().placement.offset; return o.x === 0 && o.y === 0; })`, 10*time.Second)
	placed := p.placement()
	if placed.Rotation != 90 || placed.FlipX || placed.FlipY {
		t.Fatalf("WebKit: placed %+v, want turned by 90", placed)
	}
	var hidden bool
	if p.js(&hidden, `return document.getElementById('small-note').hidden`); !hidden {
		t.Error("WebKit: a photo large enough is flagged as too small")
	}
	p.checkPreview("turned and filled")
	p.noErrors("designing")
	p.screenshot("02-design")

	// Closing the tab and coming back keeps the design and the photo
	// (localStorage, and the photo's bytes in IndexedDB: WebKit refuses a
	// Blob there in a private session, and WebDriver's sessions are).
	if err := p.s.Refresh(); err != nil {
		t.Fatalf("WebKit: reload: %v", err)
	}
	p.watchErrors()
	p.view("design", 60*time.Second)
	p.waitFor("the photo comes back", `document.getElementById('preview').classList.contains('has-photo')`, 30*time.Second)
	if again := p.placement(); again.placement != placed.placement || again.PW != 1600 || again.PH != 1000 {
		t.Errorf("WebKit: after a reload the placement is %+v, was %+v", again, placed)
	}
	p.checkPreview("after a reload")
	p.noErrors("reloading")

	// Order with the keyboard, and wait in line behind the customer at the
	// machine.
	p.tabTo("#order-btn", false)
	p.keys(wdEnter)
	p.view("status", 60*time.Second)
	p.waitFor("place in line", `document.getElementById('position').innerText === '1 order ahead of you'`, 30*time.Second)
	wait := p.text("countdown")
	if !strings.Contains(wait, ":") {
		t.Errorf("WebKit: the wait shows %q, want a countdown", wait)
	}
	p.waitFor("the wait counts down", `document.getElementById('countdown').innerText !== arguments[0]`, 10*time.Second, wait)
	p.waitFor("live", `document.getElementById('conn').dataset.state === 'live'`, 30*time.Second)
	p.noErrors("ordering")
	p.screenshot("03-in-line")

	// The customer ahead pays and their case prints; ours goes to the
	// machine: pay now, with the pickup code.
	sim.Admin(t, http.MethodPost, "/admin/orders/"+sim.Orders(t, "CT0700026")[0].ID+"/pay", nil, nil)
	p.waitFor("your turn", `document.getElementById('status-title').innerText === 'Your turn: pay at the kiosk now'`, 60*time.Second)
	vendor := sim.Orders(t, "CT0700026")
	if len(vendor) != 2 {
		t.Fatalf("the machine has %d orders, want 2", len(vendor))
	}
	code := p.text("pickup-code")
	if len(code) != 4 || !strings.HasSuffix(vendor[1].ID, code) {
		t.Errorf("WebKit: pickup code %q, vendor order %s", code, vendor[1].ID)
	}
	if title, _ := p.s.Title(); !strings.Contains(title, "pay at the kiosk") {
		t.Errorf("WebKit: the tab's title is %q", title)
	}
	p.screenshot("04-pay-now")

	// Paid at the kiosk: printed, ready.
	sim.Admin(t, http.MethodPost, "/admin/orders/"+vendor[1].ID+"/pay", nil, nil)
	p.waitFor("ready", `document.getElementById('status-title').innerText === 'Your case is ready!'`, 60*time.Second)
	if text := p.text("status-text"); text != "Collect your case at Mall 3F, east escalator." {
		t.Errorf("WebKit: the done screen says %q", text)
	}
	if got := p.text("pickup-code"); got != code {
		t.Errorf("WebKit: the done screen's pickup code is %q, was %q", got, code)
	}
	p.noErrors("waiting for the case")
	p.screenshot("05-ready")

	// The language switch, to Arabic: the page turns right to left.
	p.click(`#lang option[value="ar"]`)
	p.waitFor("the page in Arabic", `document.documentElement.lang === 'ar'`, 30*time.Second)
	p.waitFor("ready, in Arabic", `document.getElementById('status-title').innerText === 'غطاؤك جاهز!'`, 10*time.Second)
	var rtl struct {
		Dir, Direction, PickupDirection string
		NameLeft, SwitchRight           float64
		// A step's padding, and its marker (::before), as computed: CSS px.
		PadLeft, PadRight, MarkerLeft, MarkerRight string
	}
	p.js(&rtl, `
		const r = (id) => document.getElementById(id).getBoundingClientRect();
		const step = getComputedStyle(document.querySelector('#steps li'));
		const marker = getComputedStyle(document.querySelector('#steps li'), '::before');
		return {
			Dir: document.documentElement.dir,
			Direction: getComputedStyle(document.body).direction,
			PickupDirection: getComputedStyle(document.getElementById('pickup-code')).direction,
			NameLeft: r('kiosk-name').left, SwitchRight: r('lang').right,
			PadLeft: step.paddingLeft, PadRight: step.paddingRight, MarkerLeft: marker.left, MarkerRight: marker.right,
		};`)
	if rtl.Dir != "rtl" || rtl.Direction != "rtl" {
		t.Errorf("WebKit: Arabic is laid out dir=%q, direction %q, want rtl", rtl.Dir, rtl.Direction)
	}
	if rtl.NameLeft <= rtl.SwitchRight {
		t.Errorf("WebKit: in Arabic the kiosk's name (left %v) is not right of the language switch (right %v)", rtl.NameLeft, rtl.SwitchRight)
	}
	// The steps' markers and their room (inset-inline-start,
	// padding-inline-start) are on the right.
	px := func(v string) float64 {
		f, err := strconv.ParseFloat(strings.TrimSuffix(v, "px"), 64)
		if err != nil {
			return math.NaN()
		}
		return f
	}
	if !(px(rtl.PadRight) > px(rtl.PadLeft)) || !(px(rtl.MarkerRight) < px(rtl.MarkerLeft)) {
		t.Errorf("WebKit: in Arabic the steps' markers are not on the right: padding left %s, right %s; marker left %s, right %s",
			rtl.PadLeft, rtl.PadRight, rtl.MarkerLeft, rtl.MarkerRight)
	}
	if rtl.PickupDirection != "ltr" {
		t.Errorf("WebKit: the pickup code reads %s in Arabic, want ltr", rtl.PickupDirection)
	}
	if text := p.text("status-text"); !strings.Contains(text, "Mall 3F, east escalator") {
		t.Errorf("WebKit: the done screen in Arabic says %q", text)
	}
	p.noErrors("in Arabic")
	p.screenshot("07-ready-arabic")
	t.Logf("the journey in WebKit took %v", time.Since(started).Round(time.Millisecond))
}
