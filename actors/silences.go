package actors

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// silenceOp is a silence to make, or one to end early, and where the owner
// answers: the silence as it now stands, or why not.
type silenceOp struct {
	add    *domain.Silence
	expire string
	at     time.Time
	reply  chan silenceReply
}

type silenceReply struct {
	silence domain.Silence
	err     error
}

// AddSilence has the owner take a silence made on this node (the HTTP
// API checked it), which its relays then pass on to every node.
func (o *Owner) AddSilence(ctx context.Context, s domain.Silence) (domain.Silence, error) {
	return o.silenceDo(ctx, silenceOp{add: &s})
}

// ExpireSilence has the owner end the silence of that id at at, if it has
// not ended: every node learns of it from the relays, as of a new one.
func (o *Owner) ExpireSilence(ctx context.Context, id string, at time.Time) (domain.Silence, error) {
	return o.silenceDo(ctx, silenceOp{expire: id, at: at})
}

func (o *Owner) silenceDo(ctx context.Context, op silenceOp) (domain.Silence, error) {
	op.reply = make(chan silenceReply, 1)
	select {
	case o.silence <- op:
	case <-ctx.Done():
		return domain.Silence{}, ctx.Err()
	}
	select {
	case r := <-op.reply:
		return r.silence, r.err
	case <-ctx.Done():
		return domain.Silence{}, ctx.Err()
	}
}

// applySilence makes or ends a silence, and answers.
func (o *Owner) applySilence(b *batch, op silenceOp) {
	s, err := o.silenceChange(op)
	if err == nil {
		merged, _ := domain.MergeSilences(o.silences, []domain.Silence{s}, s.Updated)
		o.silences, b.silences = merged, true
		o.cfg.Log.Info().Str("silence", s.ID).Str("matcher", s.Matcher).Time("until", s.End).Str("by", s.By).Str("comment", s.Comment).
			Msg(map[bool]string{true: "silence made", false: "silence expired"}[op.add != nil])
	}
	// Answered once the snapshot that holds it is published: a list read
	// right after shows it.
	b.replies = append(b.replies, func() { op.reply <- silenceReply{s, err} })
}

// silenceChange is the silence an operation makes, or why it cannot.
func (o *Owner) silenceChange(op silenceOp) (domain.Silence, error) {
	i, found := slices.BinarySearchFunc(o.silences, cmp.Or(op.expire, idOf(op.add)), func(s domain.Silence, id string) int { return cmp.Compare(s.ID, id) })
	if op.add != nil {
		switch {
		case found:
			return domain.Silence{}, domain.ErrSilenceExists
		case len(o.silences) >= domain.MaxSilences:
			return domain.Silence{}, domain.ErrTooManySilences
		}
		if err := op.add.Check(); err != nil {
			return domain.Silence{}, fmt.Errorf("%w: %v", domain.ErrBadSilence, err)
		}
		return *op.add, nil
	}
	switch {
	case !found:
		return domain.Silence{}, domain.ErrNoSuchSilence
	case !o.silences[i].End.After(op.at):
		return o.silences[i], domain.ErrSilenceEnded
	}
	s := o.silences[i]
	s.End, s.Updated = later(op.at, s.Start.Add(time.Millisecond)), op.at
	return s, nil
}

func idOf(s *domain.Silence) string {
	if s == nil {
		return ""
	}
	return s.ID
}
