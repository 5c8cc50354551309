package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// DefaultAlertResend is how often a firing alert is posted again. Each
// post says the alert ends four resends later unless posted again, as
// Prometheus does: Alertmanager resolves the alert by itself if every node
// that posts it dies, and a missed post or two changes nothing.
const DefaultAlertResend = time.Minute

// alertLifetimes is how many resends a firing post holds the alert for.
const alertLifetimes = 4

// AlertmanagerConfig is what an Alertmanager poster is built from.
type AlertmanagerConfig struct {
	// URL is the alerts endpoint of Alertmanager's v2 API; a user and
	// password in it are sent as basic auth.
	URL     string
	Cluster string // the "cluster" label
	// GeneratorURL is where an alert links to (the page); "" for none.
	GeneratorURL string
	Source       AlertSource
	// Every is how often it looks at the source: POLL_INTERVAL, so that
	// an outage reaches Alertmanager within a round of its message.
	Every   time.Duration
	Resend  time.Duration // DefaultAlertResend when zero
	Timeout time.Duration // of one post; DefaultWebhookTimeout when zero
	Client  *http.Client  // nil: newHTTPClient(forWebhooks, Timeout, Cut)
	Cut     Cut           // nil: the network as it is
	Metrics *Metrics      // nil counts nothing
	Log     zerolog.Logger
}

// Alertmanager posts this node's alerts to one Alertmanager: each firing
// alert when it begins and every Resend while it lasts, and its end once.
// It follows the source's state rather than a queue of events, so a post
// that fails is made good by the next one, a few seconds later, with the
// state as it is by then. Each Alertmanager has its own poster: one that
// is down delays no other.
type Alertmanager struct {
	cfg   AlertmanagerConfig
	where string // the URL's host: its path and user are not for logs

	// Owned by Serve, kept across restarts.
	firing   map[string]Alert
	resolved map[string]endedAlert
	lastPost time.Time // of the last accepted post
	dirty    bool      // something changed since the last accepted post
	failing  bool
}

// endedAlert is an alert whose end Alertmanager has not heard yet.
type endedAlert struct {
	Alert
	endsAt time.Time
}

// NewAlertmanager returns the poster for cfg.URL.
func NewAlertmanager(cfg AlertmanagerConfig) *Alertmanager {
	if cfg.Resend <= 0 {
		cfg.Resend = DefaultAlertResend
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultWebhookTimeout
	}
	if cfg.Client == nil {
		cfg.Client = newHTTPClient(forWebhooks, cfg.Timeout, cfg.Cut)
	}
	where := hostOf(cfg.URL, "alertmanager")
	cfg.Metrics.AddAlertmanager(where)
	return &Alertmanager{cfg: cfg, where: where, firing: map[string]Alert{}, resolved: map[string]endedAlert{}}
}

func (a *Alertmanager) String() string { return "alertmanager(" + a.where + ")" }

// Serve looks at the source every cfg.Every and posts what is due, until
// ctx ends.
func (a *Alertmanager) Serve(ctx context.Context) error {
	tick := time.NewTicker(a.cfg.Every)
	defer tick.Stop()
	for {
		a.step(ctx, time.Now())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// step brings the alerts up to date with the source and posts them when
// they changed, when a resend is due, or when the last post failed.
func (a *Alertmanager) step(ctx context.Context, now time.Time) {
	a.follow(a.cfg.Source.Alerts(), now)
	if len(a.firing) == 0 && len(a.resolved) == 0 {
		return
	}
	if !a.dirty && !a.failing && now.Sub(a.lastPost) < a.cfg.Resend {
		return
	}
	err := a.post(ctx, now)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		a.cfg.Metrics.AlertmanagerPost(a.where, false)
		ev := a.cfg.Log.Warn()
		if a.failing {
			ev = a.cfg.Log.Debug() // said once; it tries again every round
		}
		a.failing = true
		ev.Str("host", a.where).Err(err).Int("firing", len(a.firing)).Int("resolved", len(a.resolved)).
			Msg("alertmanager post failed; will post again next round")
		return
	}
	a.cfg.Metrics.AlertmanagerPost(a.where, true)
	if a.failing {
		a.cfg.Log.Info().Str("host", a.where).Msg("alertmanager takes alerts again")
	}
	for _, r := range a.resolved {
		a.cfg.Log.Info().Str("host", a.where).Str("alert", r.Name).Str(r.Label(), r.Subject.Name).Msg("alertmanager told the alert is over")
	}
	a.failing, a.dirty, a.lastPost = false, false, now
	clear(a.resolved)
}

// follow compares what the source asserts with what was posted: a new
// alert fires; one that is gone ended, unless another node holds it now;
// an end Alertmanager could not be told of by the time the alert's last
// post runs out no longer needs telling.
func (a *Alertmanager) follow(set AlertSet, now time.Time) {
	if !set.Frozen {
		current := map[string]Alert{}
		for _, al := range set.Mine {
			current[al.key()] = al
		}
		for k, old := range a.firing {
			if _, ok := current[k]; ok {
				continue
			}
			delete(a.firing, k)
			a.dirty = true
			if !set.Elsewhere[k] {
				a.resolved[k] = endedAlert{Alert: old, endsAt: now}
			}
		}
		for k, al := range current {
			if old, ok := a.firing[k]; !ok || !old.StartsAt.Equal(al.StartsAt) {
				a.dirty = true
			}
			a.firing[k] = al
			delete(a.resolved, k)
		}
	}
	for k, r := range a.resolved {
		if now.After(r.endsAt.Add(alertLifetimes * a.cfg.Resend)) {
			delete(a.resolved, k)
			a.cfg.Log.Error().Str("host", a.where).Str("alert", r.Name).Str(r.Label(), r.Subject.Name).
				Msg("alertmanager never took the alert's end; it has expired there by itself")
		}
	}
}

// postableAlert is an alert as Alertmanager's v2 API takes it.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

func (a *Alertmanager) postable(al Alert, endsAt time.Time) postableAlert {
	ann := map[string]string{"summary": al.Summary}
	if len(al.DownFrom) > 0 {
		ann["down_from"] = strings.Join(al.DownFrom, ", ")
	}
	if len(al.UpFrom) > 0 {
		ann["up_from"] = strings.Join(al.UpFrom, ", ")
	}
	return postableAlert{
		Labels:      map[string]string{"alertname": al.Name, al.Label(): al.Subject.Name, "cluster": a.cfg.Cluster, "severity": al.Severity},
		Annotations: ann, StartsAt: al.StartsAt.UTC(), EndsAt: endsAt.UTC(), GeneratorURL: a.cfg.GeneratorURL,
	}
}

// post sends every firing alert, to hold until four resends from now, and
// every ended one, in one request.
func (a *Alertmanager) post(ctx context.Context, now time.Time) error {
	var body []postableAlert
	for _, k := range slices.Sorted(maps.Keys(a.firing)) {
		body = append(body, a.postable(a.firing[k], now.Add(alertLifetimes*a.cfg.Resend)))
	}
	for _, k := range slices.Sorted(maps.Keys(a.resolved)) {
		r := a.resolved[k]
		body = append(body, a.postable(r.Alert, r.endsAt))
	}
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	resp, err := postJSON(ctx, a.cfg.Client, a.cfg.URL, data)
	if errors.Is(err, errBadURL) {
		return errors.New("invalid Alertmanager URL")
	} else if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s: %s", resp.Status, strings.TrimSpace(string(answer)))
	}
	return nil
}
