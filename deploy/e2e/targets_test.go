package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// targetsSeen reports whether every node sees each target with its status.
func targetsSeen(nodes []*node, want map[string]string) bool {
	for _, n := range nodes {
		s, err := n.state()
		if err != nil {
			return false
		}
		for target, status := range want {
			if s.Targets[target].Status != status {
				return false
			}
		}
	}
	return true
}

// Three nodes watch two loopback targets. One dies for everyone: one down
// message for the cluster, from the first node by name, naming the three
// vantage points; its return, one recovery. The other target, a TCP port,
// stays up and is never told of.
func TestATargetDownEverywhereIsAnnouncedOnceAndItsRecovery(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond)+browserLoad)
	hook := newChat(t)
	shop := newService(t)
	db, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	go func() {
		for c, err := db.Accept(); err == nil; c, err = db.Accept() {
			c.Close()
		}
	}()
	shopName, dbName := "http://"+shop.addr+"/health", "tcp://"+db.Addr().String()
	nodes := byName(cluster(t, 3, append(clusterAlertsEnv(hook), "TARGETS="+shopName+"#body=open "+dbName)...))
	eventually(t, 10*time.Second, "every node to see both targets up", func() bool {
		return targetsSeen(nodes, map[string]string{shopName: "up", dbName: "up"})
	})

	shop.stop()
	eventually(t, 15*time.Second, "a down message about "+shopName, func() bool { d, _, _ := kinds(hook.about(shopName)); return d > 0 })
	time.Sleep(3 * time.Second) // more than a reminder gap, and the other nodes' turns
	msgs := hook.about(shopName)
	if d, _, _ := kinds(msgs); d != 1 || downFromMajority(msgs[0].Content, shopName, 3, nodes) != nil || msgs[0].Username != nodes[0].name {
		t.Fatalf("want one down message from %s naming where it is seen down from:%s", nodes[0].name, dump(msgs))
	}
	// The page shows the targets apart from the nodes: what each node
	// sees of each, the cluster's verdict, the outage as an incident and
	// the daily bars.
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+nodes[0].name+"/ui/?refresh=1&nodes="+strings.ReplaceAll(names(nodes), " ", ""))); err != nil {
		t.Fatal(err)
	}
	// The page draws each node as it answers, so a refresh may show a row
	// not yet filled: it is read until all of it holds at once.
	var page targetsView
	eventually(t, 20*time.Second, "the page's targets section: rows, verdict, matrix, incident and bars", func() bool {
		page = readTargets(t, ctx)
		if !page.Shown || page.Rows[shopName] != "down" || page.Rows[dbName] != "up" || page.Verdicts[shopName] != "down" ||
			len(page.Cells) != 6 || !page.Incidents[shopName] || page.Days[shopName] != 90 {
			return false
		}
		for _, c := range page.Cells {
			if want := map[string]string{shopName: "down", dbName: "up"}[c.To]; c.Status != want {
				return false
			}
		}
		return true
	})
	if len(page.Clipped) > 0 {
		t.Errorf("the targets matrix cuts the headers %q", page.Clipped)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveScreenshot(t, "targets.png", png)
	for _, n := range nodes {
		s, _ := n.state()
		if v := s.Cluster[shopName]; v.Status != "down" || len(v.DownFrom) != 3 {
			t.Fatalf("%s's verdict on %s: %+v", n.name, shopName, v)
		}
		families, _ := scrape(t, n)
		if up, ok := sample(families, "mesh_target_up", map[string]string{"target": shopName}); !ok || up != 0 {
			t.Fatalf("%s: mesh_target_up of %s = %v, %v", n.name, shopName, up, ok)
		}
	}

	shop.start()
	eventually(t, 15*time.Second, "a recovery", func() bool { _, _, g := kinds(hook.about(shopName)); return g > 0 })
	time.Sleep(2 * time.Second)
	msgs = hook.about(shopName)
	if d, _, g := kinds(msgs); d != 1 || g != 1 || !strings.HasPrefix(msgs[len(msgs)-1].Content, "🟢 `"+shopName+"` is reachable again (down for ") {
		t.Fatalf("want one down message and one recovery:%s", dump(msgs))
	}
	if about := hook.about(dbName); len(about) != 0 {
		t.Fatalf("messages about the target that stayed up:%s", dump(about))
	}
	for _, n := range nodes {
		if about := hook.about(n.name); len(about) != 0 {
			t.Fatalf("messages about a node:%s", dump(about))
		}
	}
}

// targetsView is what the page's targets section shows.
type targetsView struct {
	Shown     bool              `json:"shown"`
	Rows      map[string]string `json:"rows"`     // target -> the status its row shows
	Verdicts  map[string]string `json:"verdicts"` // target -> the cluster's verdict shown
	Days      map[string]int    `json:"days"`     // target -> its daily bars
	Incidents map[string]bool   `json:"incidents"`
	Clipped   []string          `json:"clipped"` // the matrix's column headers not shown whole
	Cells     []struct {
		From   string `json:"from"`
		To     string `json:"to"`
		Status string `json:"status"`
	} `json:"cells"`
}

const readTargetsJS = `(() => {
  const section = document.getElementById("targets-section");
  const out = { shown: !section.hidden, rows: {}, verdicts: {}, days: {}, incidents: {}, cells: [], clipped: [] };
  for (const li of document.querySelectorAll("#targets li[data-target]")) {
    out.rows[li.dataset.target] = li.dataset.status;
    const v = li.querySelector("[data-verdict]");
    if (v) out.verdicts[li.dataset.target] = v.dataset.verdict;
    out.days[li.dataset.target] = li.querySelectorAll("[data-day]").length;
  }
  for (const td of document.querySelectorAll("#targets-matrix td[data-to]")) out.cells.push({ from: td.dataset.from, to: td.dataset.to, status: td.dataset.status });
  for (const li of document.querySelectorAll("#incidents li[data-incident]")) out.incidents[li.dataset.incident] = true;
  for (const s of document.querySelectorAll("#targets-matrix thead th span")) if (s.scrollHeight > s.clientHeight) out.clipped.push(s.textContent);
  return out;
})()`

func readTargets(t *testing.T, ctx context.Context) targetsView {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[targetsView](readTargetsJS))
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	return v
}

// testCA is a certificate authority made by the test, trusted by the nodes
// through SSL_CERT_FILE, which Go reads on Linux.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // its PEM
}

func newTestCA(t *testing.T) *testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Mesh test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, file: file}
}

// leaf is a certificate for 127.0.0.1 that expires at notAfter.
func (ca *testCA) leaf(t *testing.T, notAfter time.Time) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// newTLSService serves HTTPS on a loopback port with a certificate of ca's
// that expires at notAfter, until the test ends; it returns its host:port.
func newTLSService(t *testing.T, ca *testCA, notAfter time.Time) string {
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, notAfter)}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secure") }), ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// slowTargets gives the probes of the HTTPS services that this test
// process serves as long as they may need: a handshake with a race-built
// server in a process that also runs other tests' clusters can take
// longer than the e2e rhythm's 250 ms, and these tests are of redirects
// and certificates, not of timing. The reminders' gaps must cover two
// such rounds.
var slowTargets = []string{"PROBE_TIMEOUT=1s", "FOLLOWUP_INTERVALS=1h"}

// An HTTPS service whose certificate (made by the test) expires in five
// days, an http:// address that redirects to it on the same host, and one
// that redirects to a login page on another host. Three nodes in cluster
// mode: the redirect on the same host is up, the other down; and one
// warning about the certificate for the whole cluster, however long they
// watch it.
func TestRedirectsAndAnExpiringCertificate(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	ca := newTestCA(t)
	notAfter := time.Now().Add(5 * 24 * time.Hour).Truncate(time.Second)
	secure := newTLSService(t, ca, notAfter)
	plain := newService(t)
	plain.redirect("/shop", http.StatusMovedPermanently, "https://"+secure+"/")
	// localhost is the same machine, but not the same host.
	plain.redirect("/admin", http.StatusFound, "http://localhost:"+strings.Split(secure, ":")[1]+"/login")
	hook := newChat(t)
	secureName, shopName, adminName := "https://"+secure+"/", "http://"+plain.addr+"/shop", "http://"+plain.addr+"/admin"
	nodes := byName(cluster(t, 3, append(append(clusterAlertsEnv(hook), "SSL_CERT_FILE="+ca.file, "TARGETS="+secureName+" "+shopName+" "+adminName), slowTargets...)...))

	eventually(t, 15*time.Second, "the redirect on the same host up, the one elsewhere down, everywhere", func() bool {
		return targetsSeen(nodes, map[string]string{secureName: "up", shopName: "up", adminName: "down"})
	})
	if lines := nodes[0].logsMatching(map[string]any{"target": adminName, "message": "probe failed"}); len(lines) == 0 ||
		lines[0]["error"] != "redirected to another host, localhost:"+strings.Split(secure, ":")[1] {
		t.Fatalf("the redirect elsewhere is not logged as such: %v", lines)
	}

	// Both targets end on the one certificate. Each target is a service of
	// its own to its operator, so each gets its warning, once for the
	// cluster, from the first node that sees it up.
	eventually(t, 15*time.Second, "the certificate warnings", func() bool {
		return len(hook.about(secureName)) > 0 && len(hook.about(shopName)) > 0
	})
	time.Sleep(5 * time.Second) // many looks more, from every node, and two election slots
	for _, name := range []string{secureName, shopName} {
		msgs := hook.about(name)
		var warnings []chatMessage
		for _, m := range msgs {
			if strings.HasPrefix(m.Content, "🔒") {
				warnings = append(warnings, m)
			}
		}
		want := fmt.Sprintf("🔒 The certificate of `%s` expires in 4d 23h (%s)", name, notAfter.UTC().Format("2006-01-02 15:04 UTC"))
		if len(warnings) != 1 || warnings[0].Content != want || warnings[0].Username != nodes[0].name {
			t.Fatalf("%s: want one warning %q from %s:%s", name, want, nodes[0].name, dump(msgs))
		}
	}
	for _, n := range nodes {
		families, _ := scrape(t, n)
		if got, ok := sample(families, "mesh_target_cert_expiry_seconds", map[string]string{"target": secureName}); !ok || got != float64(notAfter.Unix()) {
			t.Fatalf("%s: mesh_target_cert_expiry_seconds = %v, %v; want %d", n.name, got, ok, notAfter.Unix())
		}
	}
}

// A node that does not watch a target (its TARGETS lists another, as
// while a rolling change of the setting is half done) holds back nothing:
// the two nodes that watch the target send its certificate warning, once.
func TestACertificateWarningComesThoughANodeDoesNotWatchTheTarget(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	ca := newTestCA(t)
	notAfter := time.Now().Add(5 * 24 * time.Hour).Truncate(time.Second)
	secureName := "https://" + newTLSService(t, ca, notAfter) + "/"
	other := newService(t)
	otherName := "http://" + other.addr + "/"
	hook := newChat(t)
	nodes := clusterWith(t, 3, func(i int) []string {
		if i == 2 {
			return []string{"TARGETS=" + otherName}
		}
		return []string{"TARGETS=" + secureName}
	}, append(append(clusterAlertsEnv(hook), "SSL_CERT_FILE="+ca.file), slowTargets...)...)
	eventually(t, 20*time.Second, "a certificate warning", func() bool { return len(hook.about(secureName)) > 0 })
	time.Sleep(5 * time.Second) // many looks more, from both watchers, and two election slots
	msgs := hook.about(secureName)
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Content, "🔒 The certificate of `"+secureName+"` expires in 4d 23h") || msgs[0].Username == nodes[2].name {
		t.Fatalf("want one warning from a node that watches the target:%s", dump(msgs))
	}
}
