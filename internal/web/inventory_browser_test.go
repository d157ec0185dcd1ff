package web

import (
	"context"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestInventoryInBrowser opens the inventory in headless Chromium, filters
// it with the form (no script) to weak Hikvision cameras, checks that the
// rows are the devices the API lists for that filter, opens the first one
// and checks its page shows its services and redacted credentials; each
// screenshot is not blank.
func TestInventoryInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test in -short mode")
	}
	bin := chromium(t)
	st, _ := fleetStore(t, "sqlite")
	srv := New(st, Options{})
	want, total := apiPages(t, srv, "vendor=hikvision&type=ip-camera&weak=true")
	if len(want) == 0 {
		t.Fatal("the fleet has no weak Hikvision camera")
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	ctx, stop := browser(context.Background(), bin, 1280, 90*time.Second)
	defer stop()

	shot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
		if err != nil {
			t.Fatalf("chromium: screenshot: %v", err)
		}
		checkNotBlank(t, b)
		if p := os.Getenv("IOTWATCH_SCREENSHOT"); p != "" {
			os.WriteFile(strings.ReplaceAll(p, "PATH", name), b, 0o644) // for a human to look at
		}
	}
	err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/devices"), chromedp.WaitVisible(chromedp.CSS("table#devices")),
		chromedp.SendKeys(chromedp.CSS(`input[name="vendor"]`), "Hikvision"),
		chromedp.SendKeys(chromedp.CSS(`input[name="type"]`), "ip-camera"),
		chromedp.SetValue(chromedp.CSS(`select[name="weak"]`), "true"),
		chromedp.Click(chromedp.CSS(`form#filters button[type="submit"]`)),
		chromedp.WaitReady(chromedp.CSS(`select[name="weak"] option[value="true"][selected]`)),
		chromedp.WaitVisible(chromedp.CSS("table#devices")))
	if err != nil {
		t.Fatalf("chromium: filter the inventory: %v", err)
	}
	count, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#count strong")))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("table#devices a.device")).map(a => a.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	var wantIPs []string
	for _, d := range want[:min(len(want), 50)] {
		wantIPs = append(wantIPs, d.IP.String())
	}
	if strings.Join(rows, ",") != strings.Join(wantIPs, ",") || count != strconv.Itoa(total) {
		t.Errorf("filtered inventory shows %q devices %v; the API lists %d: %v", count, rows, total, wantIPs)
	}
	shot("inventory")

	err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS("table#devices a.device")), chromedp.WaitVisible(chromedp.CSS("h1#device")),
		chromedp.WaitVisible(chromedp.CSS("table#services")), chromedp.WaitVisible(chromedp.CSS("table#credentials")))
	if err != nil {
		t.Fatalf("chromium: open a device: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1#device")))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("table#credentials")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(title, wantIPs[0]) || !strings.Contains(creds, "***") {
		t.Errorf("device page %q; credentials %q: want %s with redacted passwords", title, creds, wantIPs[0])
	}
	shot("device")
}
