package scorecard

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Board answers for the scorecards of the services known now, for any
// week: what nines serve's API and UI and the CLI share.
type Board struct {
	Scorer Scorer
	// Services lists the services as the catalog has them now.
	Services func() []Service
	// Now is the clock that picks the default week.
	Now func() time.Time
}

// Week reads label ("2026-W48"), or picks the last complete week when
// label is empty.
func (b *Board) Week(label string) (Week, error) {
	if label == "" {
		return b.Scorer.Calendar.LastComplete(b.Now()), nil
	}
	w, err := b.Scorer.Calendar.Parse(label)
	if err != nil {
		return Week{}, inputError{err}
	}
	if w.Start.After(b.Now()) {
		return Week{}, inputError{fmt.Errorf("week %s has not begun yet", label)}
	}
	return w, nil
}

// Cards returns the week's scorecards of every service, or of the one
// named by only.
func (b *Board) Cards(ctx context.Context, label, only string) (Week, []Card, error) {
	w, err := b.Week(label)
	if err != nil {
		return Week{}, nil, err
	}
	services := b.Services()
	if only != "" {
		var one []Service
		for _, s := range services {
			if s.Name == only {
				one = append(one, s)
			}
		}
		if len(one) == 0 {
			return w, nil, fmt.Errorf("%w: no service is named %q", ErrUnknown, only)
		}
		// The drill-down of one service still needs its dependencies'
		// cards: score them all, keep one.
		cards, err := b.Scorer.Cards(ctx, services, w)
		if err != nil {
			return w, nil, err
		}
		for _, c := range cards {
			if c.Service == only {
				return w, []Card{c}, nil
			}
		}
	}
	cards, err := b.Scorer.Cards(ctx, services, w)
	return w, cards, err
}

// ErrUnknown is returned for a service that is not in the catalog.
var ErrUnknown = errors.New("unknown service")
