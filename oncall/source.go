package oncall

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/notify"
)

// IncidentReader is what Source reads incidents through: incident.Store
// satisfies it.
type IncidentReader interface {
	ListIncidents(ctx context.Context, f incident.Filter) ([]incident.Incident, error)
	Incident(ctx context.Context, id int64) (*incident.Incident, error)
}

var _ IncidentReader = incident.Store(nil)

// Source computes reports from what nines keeps: the rotations and the
// service→rotation map of the catalog, notify's delivery history and the
// incident store.
type Source struct {
	// Catalog returns the rotations and which rotation is on call for
	// each service; it is asked at every report, so a reloaded catalog
	// counts at once.
	Catalog func() ([]Rotation, map[string]string)
	// History is the state notify keeps its delivery history in (the
	// store).
	History notify.HistoryReader
	// Incidents, when set, reads the incidents; nil reports pages only.
	Incidents IncidentReader
	// Severities are the alert severities that page (default: page).
	Severities []string
	// Options are the report's rules; Now is set per report.
	Options Options
}

// incidentMargin is how far before the months shown an incident may have
// started and still count in them: the list is ordered by the earliest of
// impact start, detection and creation, and an incident counts at its
// detection.
const incidentMargin = 31 * 24 * time.Hour

// listPage is how many incidents one list call asks for.
const listPage = 1000

// Report computes the report of month at now.
func (s *Source) Report(ctx context.Context, month Month, now time.Time) (*Report, error) {
	if s.Catalog == nil || s.History == nil {
		return nil, errors.New("oncall: no catalog or no delivery history to compute from")
	}
	rotations, services := s.Catalog()
	opts := s.Options
	opts.Now = now
	months := opts.Months
	if months == 0 {
		months = DefaultMonths
	}
	// The widest span any zone can give the months: a day either side.
	from, _ := month.Add(1 - months).bounds(time.UTC)
	_, to := month.bounds(time.UTC)
	from, to = from.Add(-24*time.Hour), to.Add(24*time.Hour)
	ps := newPageSet(s.Severities)
	unreadable, err := notify.ReadHistory(ctx, s.History, from, to, func(d *notify.Delivery) error {
		ps.add(d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("oncall: %w", err)
	}
	pages := ps.pages()
	var incs []Incident
	if s.Incidents != nil {
		if incs, err = s.incidents(ctx, from.Add(-incidentMargin), to); err != nil {
			return nil, err
		}
	}
	rep, err := Compute(rotations, services, pages, incs, month, opts)
	if rep != nil {
		rep.UnreadableHistory = unreadable
	}
	return rep, err
}

// incidents reads, whole, the incidents that reached the on-call from
// from until to, walking the list newest first.
func (s *Source) incidents(ctx context.Context, from, to time.Time) ([]Incident, error) {
	var out []Incident
	for offset := 0; ; offset += listPage {
		list, err := s.Incidents.ListIncidents(ctx, incident.Filter{Limit: listPage, Offset: offset})
		if err != nil {
			return nil, fmt.Errorf("oncall: listing incidents: %w", err)
		}
		for i := range list {
			brief := FromIncident(&list[i])
			if at := brief.paged(); at.Before(from) || !at.Before(to) {
				continue
			}
			// The list leaves out timelines and repair items, which say
			// whether anything was done.
			whole, err := s.Incidents.Incident(ctx, list[i].ID)
			if err != nil {
				return nil, fmt.Errorf("oncall: reading incident %d: %w", list[i].ID, err)
			}
			out = append(out, FromIncident(whole))
		}
		if len(list) < listPage {
			return out, nil
		}
		if last := FromIncident(&list[len(list)-1]); last.Start.Before(from) {
			return out, nil
		}
	}
}
