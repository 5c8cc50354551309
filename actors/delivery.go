package actors

import "time"

// The three clocks of a channel's delivery (see Channel.deliver): the pacer
// keeps the channel's posts apart, whatever they carry; the backoff spaces
// the attempts of one message that keeps failing, and says when to give
// it up; the attempt timeouts bound each attempt, longer each time.

// pacer keeps a channel's posts at least gap apart, and holds the next one
// back while a service's 429 asked the channel to wait.
type pacer struct {
	gap         time.Duration
	last        time.Time // when the last post left
	pausedUntil time.Time // a 429 asked the whole queue to wait until then
}

// wait is how long the next post must wait, as of now.
func (p *pacer) wait(now time.Time) time.Duration {
	return later(p.last.Add(p.gap), p.pausedUntil).Sub(now)
}

// posted notes that a post left at.
func (p *pacer) posted(at time.Time) { p.last = at }

// pause holds the queue for as long as a service asked, as of now, but no
// longer than MaxRetryAfter, and returns how long that is.
func (p *pacer) pause(asked time.Duration, now time.Time) time.Duration {
	wait := min(asked, MaxRetryAfter)
	p.pausedUntil = now.Add(wait)
	return wait
}

// backoff is the wait between the failed attempts of one message: next,
// doubled after each failure up to max. The time spent failing (attempts
// and waits, not a 429's pauses) is counted, and past giveUpAfter the
// message is given up.
type backoff struct {
	next, max   time.Duration
	giveUpAfter time.Duration
	failing     time.Duration
}

// failed notes an attempt that failed after took, and returns how long to
// wait before the next, or giveUp when the message has been failing for
// too long.
func (b *backoff) failed(took time.Duration) (wait time.Duration, giveUp bool) {
	wait = b.next
	b.next = min(b.next*2, b.max)
	b.failing += took + wait
	return wait, b.failing > b.giveUpAfter
}

// attemptTimeouts bound the attempts of one message: next, then six times
// as long after each attempt, up to max. With the defaults 10 s, 1 min,
// 5 min: a service that takes 30 s to answer times the first attempt out
// and answers the second, so it gets the message twice at most, not once
// every ten seconds.
type attemptTimeouts struct{ next, max time.Duration }

// take returns the next attempt's timeout.
func (a *attemptTimeouts) take() time.Duration {
	d := a.next
	a.next = min(a.next*6, a.max)
	return d
}
