package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// ReceiversFor returns the receivers the routing tree sends a message
// with labels to, in the order of the tree, each once.
func (c *Config) ReceiversFor(labels map[string]string) []string {
	var out []string
	for _, r := range c.Route.Match(labels) {
		if !slices.Contains(out, r.Receiver) {
			out = append(out, r.Receiver)
		}
	}
	return out
}

// ErrNotForIncidents refuses a direct message to an incidents receiver:
// a report is not an alert, and must not open an incident.
var ErrNotForIncidents = errors.New("an incidents receiver opens incidents from alerts; route this message (kind label) to another receiver")

// Deliver sends n to its receiver now, once, bypassing grouping and the
// outbox: for reports a command sends and accounts for itself, such as
// the weekly scorecards, which remember what was delivered on their own.
// It returns an error unless the receiver accepted every request.
func (d *Dispatcher) Deliver(ctx context.Context, n *Notification) error {
	cfg := d.Config()
	rc := cfg.Receiver(n.Receiver)
	switch {
	case rc == nil:
		return fmt.Errorf("no receiver is named %q (receivers: %s)", n.Receiver, receiverNames(cfg))
	case rc.Kind == KindIncidents:
		return fmt.Errorf("receiver %s: %w", rc.Name, ErrNotForIncidents)
	case rc.Kind == KindLog:
		for _, a := range n.Alerts {
			d.opts.Logger.Info(a.Annotations["summary"], "receiver", rc.Name, "labels", a.Labels, "text", a.Annotations["description"])
		}
		return nil
	}
	reqs, err := Render(rc, n, *d.externalURL.Load(), d.opts.Now())
	if err != nil {
		return err
	}
	for i := range reqs {
		e := &Entry{Receiver: rc.Name, Kind: rc.Kind, Request: reqs[i]}
		status, _, detail, err := d.sendEntry(ctx, cfg.Timeout, e)
		switch {
		case err != nil:
			return fmt.Errorf("receiver %s: %w", rc.Name, err)
		case status < 200 || status > 299:
			return fmt.Errorf("receiver %s: HTTP %d %s", rc.Name, status, detail)
		}
	}
	return nil
}
