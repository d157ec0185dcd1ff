package label

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath returns the browser to drive, or skips (fails when
// IOTWATCH_REQUIRE_PEERS=1).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("IOTWATCH_REQUIRE_PEERS") == "1" {
		t.Fatal("chromium not installed and IOTWATCH_REQUIRE_PEERS=1")
	}
	t.Skip("chromium not installed")
	return ""
}

// TestBrowserRendersLabelAndRecord opens the HTML label and the HTML record
// in headless Chromium, checks the cards, tier and provisions render, and
// that a screenshot is not blank.
func TestBrowserRendersLabelAndRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	bin := chromiumPath(t)
	res := result(t)
	var labelPage, recordPage bytes.Buffer
	if err := Render(&labelPage, res, HTML, Options{RecordURL: "http://127.0.0.1/record#{id}"}); err != nil {
		t.Fatal(err)
	}
	if err := Render(&recordPage, res, HTML, Options{Detailed: true}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/label", func(w http.ResponseWriter, _ *http.Request) { w.Write(labelPage.Bytes()) })
	mux.HandleFunc("/record", func(w http.ResponseWriter, _ *http.Request) { w.Write(recordPage.Bytes()) })
	srv := httptest.NewServer(mux) // listens on 127.0.0.1
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(900, 1300))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/label")); err != nil {
		t.Fatalf("open label: %v", err)
	}
	cards, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("g.label-card").length`))
	if err != nil || cards != len(res.Subjects) {
		t.Errorf("rendered cards = %d (%v), want %d", cards, err, len(res.Subjects))
	}
	tier, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("text.tier").textContent`))
	if err != nil || tier != res.Subjects[0].Tier {
		t.Errorf("tier text = %q (%v), want %q", tier, err, res.Subjects[0].Tier)
	}
	width, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`document.querySelector("g.qr").getBoundingClientRect().width`))
	if err != nil || width < 80 {
		t.Errorf("QR code width = %v (%v), want >= 80 px", width, err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	checkNotBlank(t, shot)

	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/record")); err != nil {
		t.Fatalf("open record: %v", err)
	}
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("td.pass, td.fail, td.unknown, td[class='not-applicable']").length`))
	want := 0
	for _, s := range res.Subjects {
		for _, b := range s.Baselines {
			want += len(b.Provisions)
		}
	}
	if err != nil || rows != want {
		t.Errorf("record outcome cells = %d (%v), want %d", rows, err, want)
	}
	shot, err = chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	checkNotBlank(t, shot)
}

// checkNotBlank decodes a PNG and requires a few percent of non-white pixels
// and at least one strongly coloured one (tier badge, status dots).
func checkNotBlank(t *testing.T, b []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	r := img.Bounds()
	var dark, coloured, total int
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			total++
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if cr < 0xe000 || cg < 0xe000 || cb < 0xe000 {
				dark++
			}
			if int(cr>>8)-int(cg>>8) > 80 || int(cg>>8)-int(cr>>8) > 60 {
				coloured++
			}
		}
	}
	if dark*100 < total*2 || coloured == 0 {
		t.Errorf("screenshot %v looks blank: %d of %d sampled pixels non-white, %d coloured", r.Size(), dark, total, coloured)
	}
}
