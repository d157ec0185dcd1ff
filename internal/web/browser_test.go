package web

import (
	"bytes"
	"context"
	"image"
	_ "image/jpeg" // FullScreenshot below quality 100 is JPEG
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium returns the path of a headless-capable Chromium, skipping the
// test when there is none (failing when IOTWATCH_REQUIRE_PEERS=1).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("IOTWATCH_REQUIRE_PEERS") == "1" {
		t.Fatal("chromium not installed and IOTWATCH_REQUIRE_PEERS=1 (apt-get install chromium)")
	}
	t.Skip("chromium not installed")
	return ""
}

// browser starts headless Chromium (bin, from chromium) with a window width
// pixels wide and returns a context for its actions that ends after
// timeout, and stop, which closes the browser.
func browser(parent context.Context, bin string, width int, timeout time.Duration) (context.Context, func()) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(width, 900))
	actx, cancelA := chromedp.NewExecAllocator(parent, opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancelT(); cancel(); cancelA() }
}

// TestDashboardInBrowser loads the dashboard in headless Chromium and checks
// that the headline numbers show, the charts render with real geometry, and
// the screenshot is not blank.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test in -short mode")
	}
	bin := chromium(t)
	st := openStore(t)
	fill(t, st)
	ts := httptest.NewServer(New(st, Options{}))
	defer ts.Close()

	ctx, stop := browser(context.Background(), bin, 1200, 60*time.Second)
	defer stop()

	// The dashboard and the standalone report file share the renderer; check both.
	for _, path := range []string{"/", "/report.html"} {
		t.Run(path, func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+path), chromedp.WaitVisible(chromedp.CSS("svg.chart"))); err != nil {
				t.Fatalf("chromium: load %s: %v", path, err)
			}
			text := func(sel string) string {
				v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
				if err != nil {
					t.Fatalf("chromium: text of %s: %v", sel, err)
				}
				return v
			}
			eval := func(expr string) float64 {
				v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](expr))
				if err != nil {
					t.Fatalf("chromium: %s: %v", expr, err)
				}
				return v
			}
			weak, devices := text("#card-weak .n"), text("#card-devices .n")
			charts := int(eval(`document.querySelectorAll("svg.chart").length`))
			barWidth := eval(`Math.max(...Array.from(document.querySelectorAll("svg.chart rect.bar")).map(r => r.getBoundingClientRect().width))`)
			scriptRan := eval(`document.querySelectorAll("script").length`) > 0
			shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
			if err != nil {
				t.Fatalf("chromium: screenshot: %v", err)
			}
			if weak != "50.0%" || devices != "2" {
				t.Errorf("headline: weak share %q, devices %q; want 50.0%% and 2", weak, devices)
			}
			if charts < 3 {
				t.Errorf("%d charts rendered, want at least 3", charts)
			}
			if barWidth < 10 {
				t.Errorf("widest bar is %.1f px wide: chart did not render", barWidth)
			}
			if scriptRan {
				t.Errorf("a <script> element exists in the dashboard")
			}
			if p := os.Getenv("IOTWATCH_SCREENSHOT"); p != "" {
				os.WriteFile(strings.ReplaceAll(p, "PATH", strings.Trim(strings.ReplaceAll(path, "/", "_"), "_")), shot, 0o644) // for a human to look at
			}
			checkNotBlank(t, shot)
		})
	}
}

// checkNotBlank fails when a screenshot has fewer than 8 colours.
func checkNotBlank(t *testing.T, shot []byte) {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	colours := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 5 {
		for x := b.Min.X; x < b.Max.X; x += 5 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|bl>>8] = true
		}
	}
	if len(colours) < 8 {
		t.Errorf("screenshot has %d colours: blank page?", len(colours))
	}
}
