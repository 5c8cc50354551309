package main

import (
	"time"

	"github.com/rs/zerolog"
	"github.com/thejerf/suture/v4"

	"github.com/dupunkto/mesh/actors"
	"github.com/dupunkto/mesh/actors/statefile"
	"github.com/dupunkto/mesh/config"
)

// alerts is a node's alert path under one supervisor: the engine, the
// chat channels it fans out to, and the Alertmanagers that follow it.
type alerts struct {
	*suture.Supervisor
	engine   *actors.Notifier
	channels actors.Channels
}

// newAlerts builds the alert path. The engine follows the owner's verdicts
// under ALERTS's policy, wakes the relay sender when its announcements
// change (announcing) and the state file when its record does (recorded),
// and resumes what saved kept of it and of the channels.
func newAlerts(cfg config.Config, owner *actors.Owner, changes *actors.Signal, announcing, recorded actors.Waker, saved statefile.Document,
	boot time.Time, cut actors.Cut, metrics *actors.Metrics, log zerolog.Logger) *alerts {
	a := &alerts{Supervisor: suture.New("notifications", supervisorSpec(log)), channels: newChannels(cfg, saved, cut, metrics, log)}
	a.engine = actors.NewNotifier(actors.NotifierConfig{Node: cfg.Node,
		Policy:    actors.AlertPolicy(cfg.Alerts == config.AlertsCluster, len(cfg.Peers)+1),
		Followups: cfg.FollowupIntervals, PartialAfter: cfg.PartialAfter, Slot: cfg.Slot, Fresh: cfg.Fresh, Round: cfg.Round, CertWarn: cfg.CertWarn,
		State: owner, Changes: changes, Announcing: announcing, Recorded: recorded, Out: a.channels, Saved: saved.Alerts, Now: boot, Metrics: metrics, Log: log})
	a.Add(a.engine)
	for _, c := range a.channels {
		a.Add(c)
	}
	for _, u := range cfg.AlertmanagerURLs {
		a.Add(actors.NewAlertmanager(actors.AlertmanagerConfig{URL: u, Cluster: cfg.Cluster, GeneratorURL: cfg.GeneratorURL(),
			Source: a.engine, Every: cfg.PollInterval, Timeout: cfg.ProbeTimeout, Cut: cut, Metrics: metrics, Log: log}))
	}
	return a
}

// newChannels builds the chat channels: WEBHOOK_URL's, then one for each of
// NOTIFY_URLS, each resuming what a previous run had not delivered to it.
func newChannels(cfg config.Config, saved statefile.Document, cut actors.Cut, metrics *actors.Metrics, log zerolog.Logger) actors.Channels {
	var channels actors.Channels
	add := func(name string, p actors.Poster) {
		channels = append(channels, actors.NewChannel(actors.ChannelConfig{Name: name, Poster: p,
			Pending: saved.Pending[name], Persisted: cfg.StateFile != "", Metrics: metrics, Log: log}))
	}
	if cfg.WebhookURL != "" {
		add(actors.WebhookChannel, actors.NewWebhookPoster(actors.WebhookConfig{URL: cfg.WebhookURL, Format: cfg.WebhookFormat, Username: cfg.Node, Cut: cut}))
	}
	services := make([]string, len(cfg.NotifyURLs))
	for i, u := range cfg.NotifyURLs {
		services[i] = u.Service
	}
	for i, name := range actors.ChannelNames(services) {
		add(name, actors.NewNotifyPoster(cfg.NotifyURLs[i], cut))
	}
	for name, msgs := range saved.Pending {
		if !channels.Has(name) {
			log.Warn().Str("channel", name).Int("queued", len(msgs)).Msg("undelivered messages of a channel no longer configured; dropped")
		}
	}
	return channels
}
