package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dupunkto/mesh/deploy/browser"
)

// pageShot opens the page on the first of urls in headless Chromium at a
// laptop's size (1400x900), waits until it has drawn every node up, saves
// its first screen to file, and returns the bytes the nodes served that
// load of the page: /state and /history, as they went on the wire, by the
// nodes' own mesh_http_response_bytes_total.
func pageShot(urls []string, file string) (float64, error) {
	path, err := browser.Path()
	if err != nil {
		return 0, fmt.Errorf("--page-shot: %w", err)
	}
	served := func() float64 {
		var sum float64
		for _, u := range urls {
			sum += metricSum(u, "mesh_http_response_bytes_total{", `route="/state"`) + metricSum(u, "mesh_http_response_bytes_total{", `route="/history"`)
		}
		return sum
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), browser.Options(path, 1400, 900)...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()
	if err := chromedp.Do(ctx); err != nil {
		return 0, fmt.Errorf("starting %s: %w", path, err)
	}
	before := served()
	// One load and no refresh while it is measured.
	want := fmt.Sprintf("%d nodes: %d up", len(urls), len(urls))
	err = chromedp.Do(ctx,
		chromedp.EmulateViewport(1400, 900),
		chromedp.Navigate(urls[0]+"/ui/?refresh=3600&view=matrix"),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.getElementById("summary").textContent.startsWith(%q) && document.querySelectorAll("#graph td.cell.up").length === %d`,
			want, len(urls)*(len(urls)-1)), chromedp.WithPollingTimeout(90*time.Second)),
	)
	if err != nil {
		return 0, fmt.Errorf("waiting for the page to show %q and every cell up: %w", want, err)
	}
	bytes := served() - before
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return 0, err
	}
	return bytes, os.WriteFile(file, png, 0o644)
}
