package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// cellsOf are the page's matrix cells by from -> to.
func (v pageView) cellsOf() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, c := range v.Cells {
		if out[c.From] == nil {
			out[c.From] = map[string]string{}
		}
		out[c.From][c.To] = c.Status
	}
	return out
}

// allUp says whether the matrix shows every node seeing every other up.
func allUp(v pageView, nodes []*node) bool {
	if len(v.Cells) != len(nodes)*len(nodes) {
		return false
	}
	for _, c := range v.Cells {
		if want := map[bool]string{true: "self", false: "up"}[c.From == c.To]; c.Status != want {
			return false
		}
	}
	return true
}

func (v pageView) incident(node string) (ongoing string, text string, ok bool) {
	for _, i := range v.Incidents {
		if i.Node == node {
			return i.Ongoing, i.Text, true
		}
	}
	return "", "", false
}

// pageAtScale opens the page of a cluster of n real nodes, checks the
// matrix (the default above six nodes, a click away below), kills the last
// node and checks its column, its relayed row, its incident and its bars,
// then brings it back and checks the incident ends.
func pageAtScale(t *testing.T, n int) {
	// Slower rounds keep twelve race-built nodes from eating the machine,
	// and a second's timeout keeps a busy machine's slow answers from
	// counting as failures; a killed node refuses at once, and the
	// threshold makes a kill show in about a second.
	nodes := byName(cluster(t, n, "RELAY_SECRET=page-scale", "POLL_INTERVAL=300ms", "PROBE_TIMEOUT=1s", "FAILURE_THRESHOLD=3"))
	p := nodes[n-1]
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+nodes[0].name+"/ui/?refresh=1")); err != nil {
		t.Fatal(err)
	}
	v := waitView(t, ctx, "the page drawn", func(v pageView) bool { return len(v.Rows) == n && v.Updated != "" })
	if want := map[bool]string{true: "matrix", false: "graph"}[n > 6]; v.View != want {
		t.Fatalf("%d nodes open on the %s, want the %s", n, v.View, want)
	}
	if v.View == "graph" {
		if err := chromedp.Do(ctx, chromedp.Click("#view-toggle")); err != nil {
			t.Fatal(err)
		}
	}
	v = waitView(t, ctx, "every cell of the matrix up", func(v pageView) bool { return v.View == "matrix" && allUp(v, nodes) })
	// Rows and columns in name order, each cell saying who sees whom.
	for i, c := range v.Cells {
		from, to := nodes[i/n].name, nodes[i%n].name
		if c.From != from || c.To != to {
			t.Fatalf("cell %d is %s -> %s, want %s -> %s: not in name order", i, c.From, c.To, from, to)
		}
		if from != to && (!strings.Contains(c.Title, "since") || !strings.Contains(c.Title, "last seen") || !strings.Contains(c.Title, "round trip")) {
			t.Fatalf("cell %s -> %s says %q: want since, last seen and round trip", from, to, c.Title)
		}
	}
	today := time.Now().UTC().Format(time.DateOnly)
	for _, r := range v.Days {
		if len(r.Days) != 90 || !strings.HasPrefix(r.Days[89], today+" day") {
			t.Fatalf("%s has %d days, the last %q; want 90 ending today (%s)", r.Node, len(r.Days), r.Days[len(r.Days)-1], today)
		}
	}
	screenshot(t, ctx, fmt.Sprintf("matrix-%d-up.png", n))

	p.kill()
	v = waitViewSaying(t, ctx, p.name+"'s column down, its row relayed, and its incident", func(v pageView) string {
		cells := v.cellsOf()
		for _, o := range nodes[:n-1] {
			if st := cells[o.name][p.name]; st != "down" {
				return fmt.Sprintf("%s sees it %q", o.name, st)
			}
		}
		// Its row is what it last relayed: every node up, from a relay.
		for _, c := range v.Cells {
			if c.From == p.name && c.To != p.name && (!c.Relayed || c.Status != "up") {
				return fmt.Sprintf("its row shows %s %q (relayed %v)", c.To, c.Status, c.Relayed)
			}
		}
		ongoing, text, ok := v.incident(p.name)
		for _, o := range nodes[:n-1] {
			if !strings.Contains(text, o.name) { // each observer's history shows it in time
				return fmt.Sprintf("its incident (found %v) is not seen by %s: %q", ok, o.name, text)
			}
		}
		// The verdict names its vantage points once the first observer's own
		// view has reached the page (the others' relays may come first).
		if status, _, _, _ := v.row(p.name); !ok || ongoing != "true" || status != "down" || !strings.HasPrefix(v.Verdicts[p.name], "cluster: down") ||
			!strings.Contains(v.Verdicts[p.name], "down from "+nodes[0].name) {
			return fmt.Sprintf("incident ongoing %q, row %q, verdict %q", ongoing, status, v.Verdicts[p.name])
		}
		return ""
	})
	if _, text, _ := v.incident(p.name); !strings.Contains(text, "ongoing") || !strings.Contains(text, "seen by "+nodes[0].name+", ") {
		t.Fatalf("incident %q: want ongoing, seen by the observers", text)
	}
	if line := v.Verdicts[p.name]; !strings.Contains(line, "down from "+nodes[0].name) {
		t.Fatalf("%s's verdict line %q, want the vantage points", p.name, line)
	}
	for _, r := range v.Days {
		if r.Node == p.name && !strings.HasSuffix(r.Days[89], "partial") && !strings.HasSuffix(r.Days[89], "down") {
			t.Fatalf("%s's today is %q, want its outage in it", p.name, r.Days[89])
		}
	}
	screenshot(t, ctx, fmt.Sprintf("matrix-%d-killed.png", n))
	firstScreen(t, ctx, nodes, p)

	p.restart()
	waitViewSaying(t, ctx, "the incident over", func(v pageView) string {
		if ongoing, text, ok := v.incident(p.name); !ok || ongoing != "false" {
			return fmt.Sprintf("the incident (found %v) is ongoing %q: %q", ok, ongoing, text)
		}
		if !allUp(v, nodes) {
			return fmt.Sprintf("not every cell up: %v", v.cellsOf())
		}
		return ""
	})
}

// firstScreen checks what a laptop's first screen (1400×900) shows with
// down one of nodes: the summary line first, saying so; its row at the top
// of the list; the whole of who sees whom (the graph, or the matrix above
// six nodes) on that screen; and lines that do not wrap, nor rows that
// spill out of their box.
func firstScreen(t *testing.T, ctx context.Context, nodes []*node, down *node) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1400, 900)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.scrollTo(0, 0), true`)); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = chromedp.Do(ctx, chromedp.EmulateViewport(1000, 1300)) }() // as newBrowser sizes the window
	want := fmt.Sprintf("%d nodes: 1 down (%s), %d up", len(nodes), down.name, len(nodes)-1)
	var got struct {
		Summary, Trouble, First string
		ViewBottom, Height      float64
		Wrapped, Spilled        []string
	}
	eventually(t, 20*time.Second, "the first screen to show "+want, func() bool {
		var err error
		got, err = chromedp.Run(ctx, chromedp.Evaluate[struct {
			Summary, Trouble, First string
			ViewBottom, Height      float64
			Wrapped, Spilled        []string
		}](`({
  summary: document.getElementById("summary").textContent,
  trouble: document.getElementById("summary").dataset.trouble || "",
  first: document.querySelector("#rows > li")?.dataset.node || "",
  viewBottom: document.querySelector("#graph > *")?.getBoundingClientRect().bottom ?? 1e9,
  height: window.innerHeight,
  wrapped: [...document.querySelectorAll(".row .uptime")].filter((e) => e.getClientRects().length !== 1).map((e) => e.closest("li").dataset.node),
  spilled: [...document.querySelectorAll("#rows > li")].filter((e) => e.scrollWidth > e.clientWidth).map((e) => e.dataset.node + " " + e.scrollWidth + ">" + e.clientWidth),
})`))
		return err == nil && got.Summary == want && got.First == down.name
	})
	if got.Trouble != "true" {
		t.Errorf("the summary %q is not marked as trouble", got.Summary)
	}
	if len(got.Wrapped) > 0 {
		t.Errorf("the uptime line wraps for %v at 1400 px", got.Wrapped)
	}
	if len(got.Spilled) > 0 {
		t.Errorf("rows spill out of their box at 1400 px: %v", got.Spilled)
	}
	if got.ViewBottom > got.Height {
		t.Errorf("who sees whom ends %.0f px down a %.0f px screen: not all on the first screen", got.ViewBottom, got.Height)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	saveScreenshot(t, fmt.Sprintf("first-screen-%d.png", len(nodes)), png)
}

func TestPageAtThreeNodes(t *testing.T) {
	shareMachine(t, loadOf(3, 300*time.Millisecond)+browserLoad)
	pageAtScale(t, 3)
}

func TestPageAtTwelveNodes(t *testing.T) {
	shareMachine(t, loadOf(12, 300*time.Millisecond)+browserLoad)
	pageAtScale(t, 12)
}

// On a phone-width screen in dark mode the page fits the width (the matrix
// scrolls in its own box), its colours are the dark ones, and the day bars
// are one tab stop that arrow keys move along.
func TestPageOnAPhoneInDarkModeByKeyboard(t *testing.T) {
	shareMachine(t, loadOf(8, 300*time.Millisecond)+browserLoad)
	nodes := cluster(t, 8, "POLL_INTERVAL=300ms")
	ctx := newBrowser(t)
	dark := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia,
			emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	})
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		dark,
		chromedp.Navigate("http://"+nodes[0].name+"/ui/?refresh=2"),
	); err != nil {
		t.Fatal(err)
	}
	waitView(t, ctx, "the matrix drawn", func(v pageView) bool { return allUp(v, nodes) })
	fit, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
		Scroll, Width int
		Background    string
	}](`({scroll: document.documentElement.scrollWidth, width: window.innerWidth,
		background: getComputedStyle(document.body).backgroundColor})`))
	if err != nil {
		t.Fatal(err)
	}
	if fit.Scroll > fit.Width || fit.Background != "rgb(13, 17, 23)" {
		t.Fatalf("page %dpx wide in a %dpx window, background %s; want it to fit, dark", fit.Scroll, fit.Width, fit.Background)
	}
	// Tab to the first row's bars: its today holds the focus; the left
	// arrow moves to yesterday, and the line below says what it held.
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	if err := chromedp.Do(ctx, chromedp.Focus(`#rows > li:first-child .day[tabindex="0"]`), chromedp.KeyEvent(kb.ArrowLeft)); err != nil {
		t.Fatal(err)
	}
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[struct{ Day, Info string }](
		`({day: document.activeElement.dataset.day || "", info: document.querySelector("#rows > li:first-child .day-info").textContent})`))
	if err != nil {
		t.Fatal(err)
	}
	if focused.Day != yesterday || !strings.HasPrefix(focused.Info, yesterday) {
		t.Fatalf("after the left arrow the focus is on %q and the line says %q; want %s", focused.Day, focused.Info, yesterday)
	}
	screenshot(t, ctx, "phone-dark.png")
}

// A node that is slow to answer holds up no other: the nodes that answer are
// drawn while the refresh still waits for it.
func TestPageDrawsEachNodeAsItAnswers(t *testing.T) {
	shareMachine(t, loadOf(2, 100*time.Millisecond)+browserLoad)
	nodes := cluster(t, 2)
	release := make(chan struct{})
	defer close(release)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		select {
		case <-release:
		case <-r.Context().Done(): // the page gave up on it
		}
		http.NotFound(w, r)
	}))
	defer slow.Close()
	ctx := newBrowser(t)
	url := fmt.Sprintf("http://%s/ui/?refresh=30&nodes=%s,%s,%s", nodes[0].name, nodes[0].name, nodes[1].name, slow.URL)
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	// The refresh cannot end before the page's five-second timeout on the
	// slow node; the other two are drawn up before that.
	waitView(t, ctx, "both answering nodes drawn up while the slow one is awaited", func(v pageView) bool {
		s0, _, _, _ := v.row(nodes[0].name)
		s1, _, _, _ := v.row(nodes[1].name)
		return v.Updated == "" && s0 == "up" && s1 == "up"
	})
	v := waitView(t, ctx, "the refresh to end", func(v pageView) bool { return v.Updated != "" })
	if !strings.Contains(strings.Join(v.Notes, " "), "did not answer: "+strings.TrimPrefix(slow.URL, "http://")) {
		t.Fatalf("notes %v, want the slow node named as not answering", v.Notes)
	}
}
