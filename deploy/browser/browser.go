// Package browser finds the Chromium that drives the page in the
// end-to-end tests and in mesh-cost's page shot, and says how to start it.
package browser

import (
	"errors"
	"os/exec"

	"github.com/chromedp/chromedp"
)

// Path is the Chromium on PATH, under any of the names distributions give it.
func Path() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium on PATH: apt-get install chromium (go run ./cmd/mesh-suite does)")
}

// Options are chromedp's options for a headless Chromium at path, in a
// window width×height, that reaches nothing but what it is sent to.
func Options(path string, width, height int) []chromedp.ExecAllocatorOption {
	return append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(width, height),
	)
}
