package httpapi

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// /silences with a real state owner: made with the secret, listed, ended;
// what is malformed, unauthenticated, absurd or too sweeping is refused
// with a JSON 4xx, and changes nothing.
func TestSilencesAreMadeListedAndEndedWithTheSecretOnly(t *testing.T) {
	o := ownerWith(t, "a.example", "b.example", "c.example")
	srv := httptest.NewServer(NewRouter(Options{State: o, Node: "nov.mesh.dupunkto.org", RelaySecret: "s3cret", Silences: o, Log: zerolog.Nop()}))
	t.Cleanup(srv.Close)
	auth := map[string]string{"Authorization": "s3cret"}
	listed := func() int {
		r := do(t, "GET", srv.URL+"/silences", auth, "")
		var doc struct{ Silences []map[string]any }
		if r.status != 200 || json.Unmarshal([]byte(r.body), &doc) != nil {
			t.Fatalf("GET /silences: %d %s", r.status, r.body)
		}
		return len(doc.Silences)
	}

	for _, c := range []struct {
		name, body string
		header     map[string]string
		status     int
		says       string
	}{
		{"no secret", `{"matcher":"a.example","for":"2h"}`, nil, 401, "secret"},
		{"a wrong secret", `{"matcher":"a.example","for":"2h"}`, map[string]string{"Authorization": "guess"}, 401, "secret"},
		{"not JSON", `silence!`, auth, 400, "body"},
		{"an unknown field", `{"matcher":"a.example","for":"2h","until":"never"}`, auth, 400, "body"},
		{"no duration", `{"matcher":"a.example"}`, auth, 400, "for"},
		{"a year", `{"matcher":"a.example","for":"8760h"}`, auth, 400, "at most"},
		{"a bad glob", `{"matcher":"a[","for":"2h"}`, auth, 400, "glob"},
		{"nothing matched", `{"matcher":"z.example","for":"2h"}`, auth, 400, "matches no"},
		{"everything without all", `{"matcher":"*","for":"2h"}`, auth, 400, "every"},
		{"an overlong comment", `{"matcher":"a.example","for":"2h","comment":"` + strings.Repeat("x", 600) + `"}`, auth, 400, "comment"},
		{"an overlong body", `{"matcher":"a.example","for":"2h","comment":"` + strings.Repeat("x", 5000) + `"}`, auth, 413, "bytes"},
	} {
		r := do(t, "POST", srv.URL+"/silences", c.header, c.body)
		if r.status != c.status || !strings.Contains(r.body, c.says) || !strings.Contains(r.header.Get("Content-Type"), "json") {
			t.Errorf("%s: %d %s, want %d saying %q", c.name, r.status, r.body, c.status, c.says)
		}
	}
	if n := listed(); n != 0 {
		t.Fatalf("%d silences after refused requests, want none", n)
	}

	r := do(t, "POST", srv.URL+"/silences", map[string]string{"Authorization": "Bearer s3cret"}, `{"matcher":"a.example","for":"2h","by":"alice","comment":"kernel upgrade"}`)
	var made struct{ ID, Matcher, Node, By, Comment string }
	if r.status != 201 || json.Unmarshal([]byte(r.body), &made) != nil || made.ID == "" || made.Node != "nov.mesh.dupunkto.org" || made.By != "alice" {
		t.Fatalf("POST /silences: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", srv.URL+"/silences", auth, `{"matcher":"*","for":"1h","all":true}`); r.status != 201 {
		t.Fatalf("a silence of everything, said to be meant: %d %s", r.status, r.body)
	}
	if n := listed(); n != 2 {
		t.Fatalf("%d silences listed, want 2", n)
	}
	if m, ok := o.Snapshot().Maintenance("a.example", time.Now()); !ok || m.ID != made.ID || m.Reason != "silence" || m.Comment != "kernel upgrade" {
		t.Fatalf("a.example in maintenance %+v %v, want the silence", m, ok)
	}
	if r := do(t, "POST", srv.URL+"/silences/"+made.ID+"/expire", auth, ""); r.status != 200 {
		t.Fatalf("expire: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", srv.URL+"/silences/"+made.ID+"/expire", auth, ""); r.status != 409 {
		t.Fatalf("expire again: %d %s, want 409", r.status, r.body)
	}
	if r := do(t, "POST", srv.URL+"/silences/nosuch/expire", auth, ""); r.status != 404 {
		t.Fatalf("expire an unknown id: %d %s, want 404", r.status, r.body)
	}
	if n := listed(); n != 2 {
		t.Fatalf("%d silences listed after one expired, want both: ended ones are kept", n)
	}

	off := httptest.NewServer(NewRouter(Options{State: o, Silences: o, Log: zerolog.Nop()}))
	t.Cleanup(off.Close)
	if r := do(t, "GET", off.URL+"/silences", nil, ""); r.status != 403 {
		t.Fatalf("/silences on a node without RELAY_SECRET: %d, want 403", r.status)
	}
}
