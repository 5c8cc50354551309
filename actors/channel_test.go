package actors

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// Tests of a channel's queue, pacing, retries and hand-over, driven
// through the webhook poster over a scripted transport (webhook_test.go):
// what they check is the channel's, whichever service it posts to.

func TestAChannelRetriesWithExponentialBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, h := scriptedWebhook(t, answer(500, nil, ""), answer(502, nil, ""), answer(503, nil, ""), answer(204, nil, ""))
		w.Enqueue(msg(domain.MessageDown, "down"))
		time.Sleep(time.Minute)
		assertTimes(t, h.times(), 0, 1*s, 3*s, 7*s)
	})
}

func TestAChannelIsPacedAtOneMessageASecondInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, h := scriptedWebhook(t, answer(204, nil, ""))
		for i := range 4 {
			w.Enqueue(msg(domain.MessageDown, fmt.Sprint(i)))
		}
		time.Sleep(time.Minute)
		assertTimes(t, h.times(), 0, 1*s, 2*s, 3*s)
		for i, p := range h.posts {
			if p.body["content"] != fmt.Sprint(i) {
				t.Fatalf("post %d carried %q: out of order", i, p.body["content"])
			}
		}
	})
}

func TestAChannelDropsAMessageTheServiceRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, h := scriptedWebhook(t, answer(404, nil, `{"message":"Unknown Webhook"}`), answer(204, nil, ""))
		w.Enqueue(msg(domain.MessageDown, "first"))
		w.Enqueue(msg(domain.MessageDown, "second"))
		time.Sleep(time.Minute)
		assertTimes(t, h.times(), 0, 1*s) // no retry of the first; the second goes on
		if h.posts[1].body["content"] != "second" {
			t.Fatalf("second post %v", h.posts[1])
		}
	})
}

func TestAChannelGivesUpAfterTenMinutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, h := scriptedWebhook(t, answer(500, nil, ""))
		w.Enqueue(msg(domain.MessageDown, "doomed"))
		w.Enqueue(msg(domain.MessageRecovery, "next"))
		time.Sleep(time.Hour)
		// Waits of 1, 2, 4, ... 32s, then capped at 60s: posts at 0, 1, 3, 7,
		// 15, 31, 63, 123, ... 543s. The next would be at 603s, past ten
		// minutes, so the message is dropped and the next one goes out.
		got := h.times()
		want := []time.Duration{0, 1 * s, 3 * s, 7 * s, 15 * s, 31 * s, 63 * s, 123 * s, 183 * s, 243 * s, 303 * s, 363 * s, 423 * s, 483 * s, 543 * s}
		if len(got) < len(want)+1 {
			t.Fatalf("posts at %v", got)
		}
		assertTimes(t, got[:len(want)], want...)
		if got[len(want)] != 544*s || h.posts[len(want)].body["content"] != "next" {
			t.Fatalf("after giving up, post %v at %v; want the next message at 544s", h.posts[len(want)].body, got[len(want)])
		}
	})
}

// A service that is slow but takes the message (it answers after 30 s)
// gets it twice, not once every ten seconds: the first attempt gives up at
// 10 s, the second waits a minute. The attempt that ran out of time is
// counted as such.
func TestASlowServiceGetsAMessageAtMostTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		metrics := NewMetrics(nil)
		h := &scriptedHook{start: time.Now(), answers: []func() *http.Response{answer(204, nil, "")}, takes: 30 * s}
		w := webhookChannel(WebhookConfig{URL: "https://chat.example/api/webhooks/1/t0ken", Client: &http.Client{Transport: h}},
			ChannelConfig{Metrics: metrics, Log: zerolog.Nop()})
		go w.Serve(t.Context())
		w.Enqueue(msg(domain.MessageDown, "down"))
		time.Sleep(10 * time.Minute)
		assertTimes(t, h.times(), 0, 11*s) // 10 s, then the 1 s backoff
		for result, want := range map[string]float64{DeliveryTimedOut: 1, DeliveryRetried: 0, DeliveryDelivered: 1} {
			if got := testutil.ToFloat64(metrics.deliveries.WithLabelValues(WebhookChannel, result)); got != want {
				t.Errorf("%s: %v, want %v", result, got, want)
			}
		}
	})
}

// Each attempt of a message may take six times as long as the one before,
// from the channel's timeout up to MaxAttemptTimeout.
func TestAnAttemptsTimeoutGrowsToFiveMinutes(t *testing.T) {
	a := attemptTimeouts{next: DefaultWebhookTimeout, max: MaxAttemptTimeout}
	var got []time.Duration
	for range 4 {
		got = append(got, a.take())
	}
	assertTimes(t, got, 10*s, 60*s, 300*s, 300*s)
}

func TestAChannelsQueueOverflowDropsRemindersFirst(t *testing.T) {
	metrics := NewMetrics(nil)
	w := webhookChannel(WebhookConfig{URL: "https://chat.example/x"}, ChannelConfig{QueueSize: 3, Metrics: metrics, Log: zerolog.Nop()}) // not serving: the queue only fills
	w.Enqueue(msg(domain.MessageDown, "d1"))
	w.Enqueue(msg(domain.MessageReminder, "r1"))
	w.Enqueue(msg(domain.MessageReminder, "r2"))
	w.Enqueue(msg(domain.MessageRecovery, "u1")) // evicts r1, the oldest reminder
	w.Enqueue(msg(domain.MessageReminder, "r3")) // full, and a reminder: dropped
	w.Enqueue(msg(domain.MessageDown, "d2"))     // evicts r2
	w.Enqueue(msg(domain.MessageDown, "d3"))     // full of downs and recoveries: dropped
	var got []string
	for _, m := range w.queue.TakeAll() {
		got = append(got, m.Text)
	}
	if strings.Join(got, ",") != "d1,u1,d2" {
		t.Fatalf("queue %v, want d1,u1,d2", got)
	}
	// Four drops, counted under the channel's own name, as every channel's.
	other := NewChannel(ChannelConfig{Name: "ntfy-2", Poster: NewWebhookPoster(WebhookConfig{URL: "https://chat.example/y"}), QueueSize: 1,
		Metrics: metrics, Log: zerolog.Nop()})
	other.Enqueue(msg(domain.MessageDown, "d"))
	other.Enqueue(msg(domain.MessageReminder, "r"))
	for channel, want := range map[string]float64{WebhookChannel: 4, "ntfy-2": 1} {
		dropped := testutil.ToFloat64(metrics.dropped.WithLabelValues(channel))
		results := testutil.ToFloat64(metrics.deliveries.WithLabelValues(channel, DeliveryDropped))
		if dropped != want || results != want {
			t.Errorf("%s: %v dropped and %v deliveries dropped, want %v", channel, dropped, results, want)
		}
	}
}

// A 429 that asks for longer than the retry window pauses the whole queue
// for as long as it asks (up to MaxRetryAfter): the message that met it is
// kept, not dropped at its first attempt, and the messages behind it wait
// out the pause too rather than hitting the service at once.
func TestA429LongerThanTheRetryWindowPausesTheQueueAndKeepsTheMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, h := scriptedWebhook(t, answer(429, http.Header{"Retry-After": {"1800"}}, ""), answer(204, nil, ""))
		w.Enqueue(msg(domain.MessageDown, "down"))
		w.Enqueue(msg(domain.MessageReminder, "reminder"))
		time.Sleep(time.Hour)
		assertTimes(t, h.times(), 0, 1800*s, 1801*s)
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.posts[1].body["content"] != "down" || h.posts[2].body["content"] != "reminder" {
			t.Fatalf("posts %+v, want the down message again, then the reminder", h.posts)
		}
	})
}

// A service that asks for a day is broken: the pause stops at MaxRetryAfter.
func TestARetryAfterOfADayPausesForAnHour(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, h := scriptedWebhook(t, answer(429, http.Header{"Retry-After": {"86400"}}, ""), answer(204, nil, ""))
		w.Enqueue(msg(domain.MessageDown, "down"))
		time.Sleep(2 * time.Hour)
		assertTimes(t, h.times(), 0, MaxRetryAfter)
	})
}

// The messages not yet delivered, the one in flight first, are what the
// state file keeps; a webhook built with them delivers them first.
func TestUndeliveredMessagesAreHandedOverAndDeliveredFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		h := &scriptedHook{start: time.Now(), answers: []func() *http.Response{answer(503, nil, "")}}
		var logs syncWriter
		w := webhookChannel(WebhookConfig{URL: "https://chat.example/x", Client: &http.Client{Transport: h}}, ChannelConfig{Persisted: true, Log: zerolog.New(&logs)})
		done := make(chan struct{})
		go func() { w.Serve(ctx); close(done) }()
		w.Enqueue(msg(domain.MessageDown, "down"))
		w.Enqueue(msg(domain.MessageReminder, "reminder"))
		time.Sleep(3 * time.Second) // the down message is being retried
		cancel()
		<-done
		pending := w.Pending()
		if len(pending) != 2 || pending[0].Text != "down" || pending[1].Text != "reminder" {
			t.Fatalf("pending %+v, want the down message in flight, then the reminder", pending)
		}
		if !strings.Contains(logs.String(), `"queued":2`) || !strings.Contains(logs.String(), "the state file keeps them") {
			t.Fatalf("the stop did not say what the queue held: %s", logs.String())
		}

		h2 := &scriptedHook{start: time.Now(), answers: []func() *http.Response{answer(204, nil, "")}}
		next := webhookChannel(WebhookConfig{URL: "https://chat.example/x", Client: &http.Client{Transport: h2}}, ChannelConfig{Pending: pending, Log: zerolog.Nop()})
		go next.Serve(t.Context())
		next.Enqueue(msg(domain.MessageRecovery, "recovery"))
		time.Sleep(time.Minute)
		h2.mu.Lock()
		defer h2.mu.Unlock()
		var got []string
		for _, p := range h2.posts {
			got = append(got, p.body["content"])
		}
		if strings.Join(got, ",") != "down,reminder,recovery" {
			t.Fatalf("delivered %v after the restart, want down, reminder, recovery", got)
		}
	})
}

// A node that stops while a message is being posted lets the post finish,
// for FinishGrace at most: a message the service took is not kept as
// undelivered, to be sent again by the next run (a second down message);
// one the service has not answered by then is kept.
func TestAStoppingChannelLetsThePostInFlightFinish(t *testing.T) {
	for _, c := range []struct {
		name  string
		takes time.Duration
		kept  int
	}{
		{"answered within the grace", FinishGrace / 2, 0},
		{"not answered within the grace", 2 * FinishGrace, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				h := &scriptedHook{start: time.Now(), answers: []func() *http.Response{answer(204, nil, "")}, takes: c.takes}
				w := webhookChannel(WebhookConfig{URL: "https://chat.example/x", Client: &http.Client{Transport: h}}, ChannelConfig{Persisted: true, Log: zerolog.Nop()})
				done := make(chan struct{})
				go func() { w.Serve(ctx); close(done) }()
				w.Enqueue(msg(domain.MessageDown, "down"))
				synctest.Wait() // the post is in flight
				stopped := time.Now()
				cancel()
				<-done
				if took := time.Since(stopped); took > FinishGrace {
					t.Errorf("the channel took %v to stop, want at most %v", took, FinishGrace)
				}
				if n := len(w.Pending()); n != c.kept {
					t.Fatalf("%d messages kept for the next run, want %d", n, c.kept)
				}
			})
		})
	}
}
