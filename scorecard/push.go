package scorecard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/store"
)

// Router says which receivers get a message with these labels: notify's
// routing tree (*notify.Config).
type Router interface {
	ReceiversFor(labels map[string]string) []string
}

// Deliverer sends one notification now and says whether its receiver
// took it (*notify.Dispatcher).
type Deliverer interface {
	Deliver(ctx context.Context, n *notify.Notification) error
}

// Memory remembers which week's scorecard each owner of a service was
// sent, across restarts (store.State).
type Memory interface {
	GetState(ctx context.Context, key string) ([]byte, error)
	PutState(ctx context.Context, key string, value []byte) error
}

var (
	_ Router    = (*notify.Config)(nil)
	_ Deliverer = (*notify.Dispatcher)(nil)
	_ Memory    = (store.State)(nil)
)

// Delivery is one scorecard for one owner of a service: to which
// receivers it goes, or why it does not.
type Delivery struct {
	Service   string   `json:"service"`
	Owner     string   `json:"owner"`
	Week      string   `json:"week"`
	Colour    Colour   `json:"colour"`
	Reasons   []string `json:"reasons"`
	Receivers []string `json:"receivers"`
	// Skip says why nothing is sent; empty when it is.
	Skip string `json:"skip,omitempty"`
	// Sent and Error are what Push made of it.
	Sent  bool   `json:"sent"`
	Error string `json:"error,omitempty"`

	card      *Card
	weekStart int64
}

// sentPrefix keys what Memory holds: one key per service and owner, whose
// value is the start (Unix ns) of the newest week sent to that owner.
const sentPrefix = "scorecard/sent/"

func sentKey(service, owner string) string { return sentPrefix + service + "\x00" + owner }

// Plan decides, for the cards of week, what goes to whom: a card worth
// sending (Card.Send) goes to each owner of its service, through the
// receivers the routing tree picks for the labels service, owner and
// kind=scorecard, unless that owner was already sent this week's (or a
// later week's) card. Nothing is sent here; Push sends the plan.
func Plan(ctx context.Context, cards []Card, week Week, r Router, mem Memory) ([]Delivery, error) {
	var out []Delivery
	for i := range cards {
		c := &cards[i]
		base := Delivery{Service: c.Service, Week: c.Week, Colour: c.Colour, Reasons: c.Reasons,
			Receivers: []string{}, card: c, weekStart: week.Start.UnixNano()}
		if c.Week != week.Label {
			return nil, fmt.Errorf("the scorecard of %s is for %s, not %s", c.Service, c.Week, week.Label)
		}
		if !c.Send {
			d := base
			d.Skip = "nothing changed: " + string(c.Colour) + ", no worse than the 21 days before"
			if c.Colour == None {
				d.Skip = "no calls measured this week"
			}
			out = append(out, d)
			continue
		}
		if len(c.Owners) == 0 {
			d := base
			d.Skip = "the service has no owner: set one in the catalog"
			out = append(out, d)
			continue
		}
		for _, owner := range c.Owners {
			d := base
			d.Owner = owner
			last, err := lastSent(ctx, mem, c.Service, owner)
			if err != nil {
				return nil, err
			}
			if last >= d.weekStart {
				d.Skip = "already sent this week"
				out = append(out, d)
				continue
			}
			d.Receivers = r.ReceiversFor(labels(c, owner))
			if len(d.Receivers) == 0 {
				d.Skip = "no route: the routing tree sends kind=scorecard nowhere"
			}
			out = append(out, d)
		}
	}
	return out, nil
}

func lastSent(ctx context.Context, mem Memory, service, owner string) (int64, error) {
	b, err := mem.GetState(ctx, sentKey(service, owner))
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading what was sent to %s of %s: %w", owner, service, err)
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading what was sent to %s of %s: %q is not a week start", owner, service, b)
	}
	return v, nil
}

// Push sends the plan: each delivery not skipped to each of its
// receivers, remembering the week for the owner once every receiver took
// it, so a push run twice (or after a restart) sends nothing twice. A
// receiver that fails leaves the delivery to the next push; the errors
// are returned together after every delivery was tried.
func Push(ctx context.Context, plan []Delivery, d Deliverer, mem Memory) error {
	var errs []error
	for i := range plan {
		p := &plan[i]
		if p.Skip != "" {
			continue
		}
		var failed []error
		for _, rc := range p.Receivers {
			if err := d.Deliver(ctx, Notification(p.card, p.Owner, rc)); err != nil {
				failed = append(failed, err)
			}
		}
		if err := errors.Join(failed...); err != nil {
			p.Error = err.Error()
			errs = append(errs, fmt.Errorf("scorecard of %s for %s: %w", p.Service, p.Owner, err))
			continue
		}
		if err := mem.PutState(ctx, sentKey(p.Service, p.Owner), []byte(strconv.FormatInt(p.weekStart, 10))); err != nil {
			// Delivered but not remembered: the next push may send it
			// again, which is better than saying nothing.
			errs = append(errs, fmt.Errorf("remembering the scorecard of %s sent to %s: %w", p.Service, p.Owner, err))
		}
		p.Sent = true
	}
	return errors.Join(errs...)
}

func labels(c *Card, owner string) map[string]string {
	return map[string]string{"kind": "scorecard", "alert": "scorecard", "service": c.Service, "owner": owner,
		"colour": string(c.Colour), "week": c.Week}
}

// Notification renders a card for one owner as a notification to
// receiver: one alert whose labels route it and whose annotations carry
// the subject, a one-line summary and the text.
func Notification(c *Card, owner, receiver string) *notify.Notification {
	l := labels(c, owner)
	summary := fmt.Sprintf("%s %s: %s, %s against a goal of %s", c.Service, c.Week, c.Colour, pct(c.Rate), pct(&c.Goal))
	var b strings.Builder
	fmt.Fprintf(&b, "Availability of %s as its clients saw it in %s: %s of %d calls succeeded, against a goal of %s.\n",
		c.Service, c.Week, pct(c.Rate), c.Calls, pct(&c.Goal))
	fmt.Fprintf(&b, "The 21 days before: %s. The week before was %s.\n", pct(c.Before21), c.Previous)
	fmt.Fprintf(&b, "Sent because: %s.\n", strings.Join(c.Reasons, "; "))
	b.WriteString("\nLast weeks:")
	for _, p := range c.History {
		if p.Rate == nil {
			b.WriteString(" –")
			continue
		}
		fmt.Fprintf(&b, " %s", pct(p.Rate))
	}
	b.WriteString("\n")
	for _, part := range []struct {
		name  string
		links []Link
	}{{"Callers", c.Callers}, {"Dependencies", c.Dependencies}} {
		if len(part.links) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s:\n", part.name)
		for _, k := range part.links {
			fmt.Fprintf(&b, "  %s: %d calls, %s%s\n", k.Service, k.Calls, pct(k.Rate), linkNote(k))
		}
	}
	return &notify.Notification{Receiver: receiver, GroupKey: "scorecard/" + c.Week + "/" + c.Service + "/" + owner,
		GroupLabels: map[string]string{"service": c.Service, "owner": owner},
		Alerts: []notify.Alert{{Labels: l, Fingerprint: notify.Fingerprint(l), Annotations: map[string]string{
			"summary": summary, "description": b.String(),
			"subject": fmt.Sprintf("Scorecard %s: %s is %s", c.Week, c.Service, c.Colour)}}}}
}

func linkNote(k Link) string {
	switch {
	case !k.Declared:
		return " (not declared in the catalog)"
	case k.From == "scorecard":
		return " (its own scorecard)"
	case !k.Detected && k.From == "":
		return " (no calls measured)"
	}
	return ""
}

// pct writes a rate with as many decimals as nines need, or "no data".
func pct(r *float64) string {
	if r == nil {
		return "no data"
	}
	return strconv.FormatFloat(*r*100, 'f', 3, 64) + " %"
}

// Pusher sends the scorecards of the last complete week, as nines serve
// does on its own: Step plans and pushes, and since what was sent is
// remembered, stepping every hour sends each card once, soon after its
// week ends, and retries what a receiver refused.
type Pusher struct {
	Board *Board
	// Router is notify's routing tree in force (it may be reloaded).
	Router    func() Router
	Deliverer Deliverer
	Memory    Memory
	Logger    *slog.Logger
}

// Step pushes the last complete week's cards and returns the plan.
func (p *Pusher) Step(ctx context.Context) ([]Delivery, error) {
	w, cards, err := p.Board.Cards(ctx, "", "")
	if err != nil {
		return nil, err
	}
	plan, err := Plan(ctx, cards, w, p.Router(), p.Memory)
	if err != nil {
		return nil, err
	}
	err = Push(ctx, plan, p.Deliverer, p.Memory)
	for _, d := range plan {
		if d.Sent {
			p.Logger.Info("scorecard sent", "service", d.Service, "owner", d.Owner, "week", d.Week, "colour", string(d.Colour), "receivers", d.Receivers)
		}
	}
	return plan, err
}

// Run steps at once and then every interval until ctx ends, logging
// failures; the next step retries them.
func (p *Pusher) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := p.Step(ctx); err != nil && ctx.Err() == nil {
			p.Logger.Error("scorecard push", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
