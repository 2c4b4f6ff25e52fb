package incident

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options configure a Service. Store is required.
type Options struct {
	Store  Store
	Config *Config
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Services lists the services known besides those of the
	// configuration: the services of the loaded SLOs. An incident naming
	// another service is refused.
	Services func() []string
	// SLOsOf lists the SLOs of a service, for incidents opened without
	// naming the SLOs they affected.
	SLOsOf func(service string) []string
	// SLOs lists the SLOs incidents may name; nil accepts any name.
	SLOs func() []string
	// Budget computes the error budget an SLO burned in [from, to). Nil
	// leaves budget figures out.
	Budget func(ctx context.Context, slo string, from, to time.Time) (Burn, error)
}

// Service records incidents and answers for them. It is safe for
// concurrent use.
type Service struct {
	opt Options
	cfg *Config

	// refreshing lets one Refresh read the store at a time; mu guards
	// what follows.
	refreshing sync.Mutex
	mu         sync.RWMutex
	// facts holds the facts of every incident as of generation gen, so
	// that a report reads only what changed since the last one.
	gen   int64
	facts []Facts
	index map[int64]int
	// repairs are every repair item as of generation repairsGen (valid
	// when haveRepairs): a repair item changes only with its incident,
	// which takes a new generation, so the debt report reads them again
	// only after a write.
	repairs     []RepairItem
	repairsGen  int64
	haveRepairs bool
}

// New returns a Service.
func New(opt Options) (*Service, error) {
	if opt.Store == nil {
		return nil, errors.New("incident: no store")
	}
	if opt.Config == nil {
		opt.Config = &Config{}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Service{opt: opt, cfg: opt.Config.withDefaults()}, nil
}

// Config returns the configuration in force, with defaults filled in.
func (s *Service) Config() *Config { return s.cfg }

// KnownServices lists the services incidents may name, sorted.
func (s *Service) KnownServices() []string {
	var out []string
	for name := range s.cfg.Services {
		out = append(out, name)
	}
	if s.opt.Services != nil {
		out = append(out, s.opt.Services()...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (s *Service) checkServices(svcs []string) error {
	if len(svcs) == 0 {
		return fmt.Errorf("%w: no service: name the service(s) affected", ErrInvalid)
	}
	known := s.KnownServices()
	for _, v := range svcs {
		if !slices.Contains(known, v) {
			list := strings.Join(known, ", ")
			if list == "" {
				list = "none: load SLOs or list services in the incidents configuration"
			}
			return fmt.Errorf("%w: unknown service %q; known services: %s", ErrInvalid, v, list)
		}
	}
	return nil
}

// OpenInput is what opening an incident takes.
type OpenInput struct {
	Title      string      `json:"title"`
	Summary    string      `json:"summary,omitempty"`
	Services   []string    `json:"services"`
	Owner      string      `json:"owner,omitempty"`
	Severity   int         `json:"severity"`
	DetectedBy DetectedBy  `json:"detected_by"`
	GroupKey   string      `json:"group_key,omitempty"`
	SLOs       []string    `json:"slos,omitempty"`
	Links      []Link      `json:"links,omitempty"`
	Responders []Responder `json:"responders,omitempty"`

	ImpactStart time.Time `json:"impact_start,omitzero"`
	// Detected defaults to now.
	Detected  time.Time `json:"detected,omitzero"`
	Engaged   time.Time `json:"engaged,omitzero"`
	Mitigated time.Time `json:"mitigated,omitzero"`
	Resolved  time.Time `json:"resolved,omitzero"`
}

// Open records a new incident.
func (s *Service) Open(ctx context.Context, in OpenInput) (*Incident, error) {
	now := s.opt.Now().UTC()
	inc := &Incident{
		Title: strings.TrimSpace(in.Title), Summary: in.Summary, Services: in.Services, Owner: in.Owner,
		Severity: in.Severity, Status: Open, DetectedBy: in.DetectedBy, GroupKey: in.GroupKey,
		ImpactStart: in.ImpactStart, Detected: in.Detected, Engaged: in.Engaged, Mitigated: in.Mitigated, Resolved: in.Resolved,
		Responders: in.Responders, Links: in.Links, SLOs: in.SLOs, Created: now, Updated: now,
	}
	if inc.Detected.IsZero() {
		inc.Detected = now
	}
	if inc.DetectedBy == "" {
		inc.DetectedBy = ByOther
	}
	switch {
	case !inc.Resolved.IsZero():
		inc.Status = Resolved
	case !inc.Mitigated.IsZero():
		inc.Status = Mitigated
	}
	if len(inc.SLOs) == 0 && s.opt.SLOsOf != nil {
		for _, svc := range inc.Services {
			inc.SLOs = append(inc.SLOs, s.opt.SLOsOf(svc)...)
		}
	}
	if err := s.validate(inc, nil); err != nil {
		return nil, err
	}
	s.refreshBurn(ctx, inc, now)
	if err := s.opt.Store.CreateIncident(ctx, inc); err != nil {
		return nil, err
	}
	return s.decorate(inc), nil
}

// recorded is what an incident already had before a change: the names
// and level that were valid when they were recorded stay accepted after
// an SLO, a service or a severity leaves the configuration, so that the
// incident can still be edited.
type recorded struct {
	services, slos []string
	severity       int
}

func recordedOf(inc *Incident) *recorded {
	return &recorded{slices.Clone(inc.Services), slices.Clone(inc.SLOs), inc.Severity}
}

// validate checks an incident as a whole: anything that fails here is
// never stored. prev is what it had before the change (nil when new).
func (s *Service) validate(inc *Incident, prev *recorded) error {
	if prev == nil {
		prev = &recorded{}
	}
	var errs []error
	if inc.Title == "" {
		errs = append(errs, fmt.Errorf("%w: title is empty", ErrInvalid))
	}
	var added []string
	for _, v := range inc.Services {
		if !slices.Contains(prev.services, v) {
			added = append(added, v)
		}
	}
	if len(inc.Services) == 0 {
		errs = append(errs, fmt.Errorf("%w: no service: name the service(s) affected", ErrInvalid))
	} else if err := s.checkServices(added); len(added) > 0 && err != nil {
		errs = append(errs, err)
	}
	if inc.Severity != prev.severity || prev.severity == 0 {
		if err := s.cfg.checkSeverity(inc.Severity); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := ParseDetectedBy(string(inc.DetectedBy)); err != nil {
		errs = append(errs, err)
	}
	if inc.Status.rank() < 0 {
		errs = append(errs, fmt.Errorf("%w: status %q", ErrInvalid, inc.Status))
	}
	if err := inc.checkOrder(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case inc.Status.rank() >= Mitigated.rank() && inc.Mitigated.IsZero():
		errs = append(errs, fmt.Errorf("%w: status %s needs the mitigated time", ErrInvalid, inc.Status))
	case inc.Status.rank() >= Resolved.rank() && inc.Resolved.IsZero():
		errs = append(errs, fmt.Errorf("%w: status %s needs the resolved time", ErrInvalid, inc.Status))
	}
	names := map[string]bool{}
	orders := map[int]bool{}
	for i, r := range inc.Responders {
		switch {
		case strings.TrimSpace(r.Name) == "":
			errs = append(errs, fmt.Errorf("%w: responders[%d]: empty name", ErrInvalid, i))
		case names[r.Name]:
			errs = append(errs, fmt.Errorf("%w: responder %q listed twice", ErrInvalid, r.Name))
		case r.Order < 1 || orders[r.Order]:
			errs = append(errs, fmt.Errorf("%w: responder %q: paging order %d is not a new positive number", ErrInvalid, r.Name, r.Order))
		}
		if _, err := ParseRole(string(r.Role)); err != nil {
			errs = append(errs, err)
		}
		names[r.Name], orders[r.Order] = true, true
	}
	if s.opt.SLOs != nil {
		known := s.opt.SLOs()
		for _, name := range inc.SLOs {
			if !slices.Contains(known, name) && !slices.Contains(prev.slos, name) {
				errs = append(errs, fmt.Errorf("%w: unknown SLO %q; loaded SLOs: %s", ErrInvalid, name, strings.Join(known, ", ")))
			}
		}
	}
	for i, l := range inc.Links {
		if err := checkLink(l.URL); err != nil {
			errs = append(errs, fmt.Errorf("%w: links[%d]: %v", ErrInvalid, i, err))
		}
	}
	return errors.Join(errs...)
}

// Get returns an incident with its timeline, repair items and times.
func (s *Service) Get(ctx context.Context, id int64) (*Incident, error) {
	inc, err := s.opt.Store.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	if inc.Mitigated.IsZero() && !inc.Closed() {
		// The burn of an unmitigated incident grows: show it as of now.
		s.refreshBurn(ctx, inc, s.opt.Now())
	}
	return s.decorate(inc), nil
}

// List returns incidents matching f, newest first, without timelines.
func (s *Service) List(ctx context.Context, f Filter) ([]Incident, error) {
	list, err := s.opt.Store.ListIncidents(ctx, f)
	if err != nil {
		return nil, err
	}
	for i := range list {
		s.decorate(&list[i])
	}
	return list, nil
}

func (s *Service) decorate(inc *Incident) *Incident {
	t := inc.Times()
	inc.Metrics = &t
	for _, x := range []*[]Responder{&inc.Responders} {
		if *x == nil {
			*x = []Responder{}
		}
	}
	if inc.Timeline == nil {
		inc.Timeline = []Entry{}
	}
	if inc.Repairs == nil {
		inc.Repairs = []RepairItem{}
	}
	if inc.Links == nil {
		inc.Links = []Link{}
	}
	if inc.SLOs == nil {
		inc.SLOs = []string{}
	}
	if inc.Burn == nil {
		inc.Burn = []Burn{}
	}
	return inc
}

// refreshBurn recomputes the budget burned on each affected SLO, from
// impact start (or detection) to mitigation (or now).
func (s *Service) refreshBurn(ctx context.Context, inc *Incident, now time.Time) {
	if s.opt.Budget == nil || len(inc.SLOs) == 0 {
		return
	}
	from := inc.ImpactStart
	if from.IsZero() {
		from = inc.Detected
	}
	to := inc.Mitigated
	if to.IsZero() {
		to = now
	}
	if from.IsZero() || !from.Before(to) {
		inc.Burn = nil
		return
	}
	burns := make([]Burn, 0, len(inc.SLOs))
	for _, name := range inc.SLOs {
		b, err := s.opt.Budget(ctx, name, from, to)
		b.SLO, b.From, b.To = name, from.UTC(), to.UTC()
		if err != nil {
			b = Burn{SLO: name, From: from.UTC(), To: to.UTC(), Error: err.Error()}
		}
		burns = append(burns, b)
	}
	inc.Burn = burns
}

// Patch changes an incident. Nil fields stay as they are.
type Patch struct {
	// Version is the version the change is based on; a stale one fails
	// with *ConflictError. Zero skips the check (for changes that do not
	// depend on what was read).
	Version  int64   `json:"version,omitempty"`
	Title    *string `json:"title,omitempty"`
	Summary  *string `json:"summary,omitempty"`
	Severity *int    `json:"severity,omitempty"`
	// Status moves the incident; going back needs Reopen.
	Status     *Status     `json:"status,omitempty"`
	Reopen     bool        `json:"reopen,omitempty"`
	DetectedBy *DetectedBy `json:"detected_by,omitempty"`
	Owner      *string     `json:"owner,omitempty"`
	Services   []string    `json:"services,omitempty"`

	ImpactStart *time.Time `json:"impact_start,omitempty"`
	Detected    *time.Time `json:"detected,omitempty"`
	Engaged     *time.Time `json:"engaged,omitempty"`
	Mitigated   *time.Time `json:"mitigated,omitempty"`
	Resolved    *time.Time `json:"resolved,omitempty"`

	// Responders are added, or updated by name (role, engaged, paged).
	Responders []Responder `json:"responders,omitempty"`
	AddLinks   []Link      `json:"add_links,omitempty"`
	AddSLOs    []string    `json:"add_slos,omitempty"`
}

// Update applies a patch in one transaction.
func (s *Service) Update(ctx context.Context, id int64, p Patch) (*Incident, error) {
	now := s.opt.Now().UTC()
	inc, err := s.opt.Store.UpdateIncident(ctx, id, func(inc *Incident) error {
		if err := s.admit(inc, p.Version, p.Reopen); err != nil {
			return err
		}
		return s.apply(inc, &p, now, recordedOf(inc))
	})
	if err != nil {
		return nil, err
	}
	return s.storeBurn(ctx, inc, now), nil
}

// admit checks the version and that the incident takes changes.
func (s *Service) admit(inc *Incident, version int64, reopen bool) error {
	if version != 0 && version != inc.Version {
		return &ConflictError{ID: inc.ID, Expected: version, Actual: inc.Version}
	}
	if inc.Closed() && !reopen {
		return fmt.Errorf("incident %d: %w", inc.ID, ErrClosed)
	}
	return nil
}

func (s *Service) apply(inc *Incident, p *Patch, now time.Time, prev *recorded) error {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&inc.Title, p.Title)
	set(&inc.Owner, p.Owner)
	if p.Summary != nil {
		inc.Summary = *p.Summary
	}
	if p.Severity != nil {
		inc.Severity = *p.Severity
	}
	if p.DetectedBy != nil {
		inc.DetectedBy = *p.DetectedBy
	}
	if p.Services != nil {
		inc.Services = p.Services
	}
	for _, t := range []struct {
		dst *time.Time
		v   *time.Time
	}{{&inc.ImpactStart, p.ImpactStart}, {&inc.Detected, p.Detected}, {&inc.Engaged, p.Engaged}, {&inc.Mitigated, p.Mitigated}, {&inc.Resolved, p.Resolved}} {
		if t.v != nil {
			*t.dst = t.v.UTC()
		}
	}
	for _, r := range p.Responders {
		i := slices.IndexFunc(inc.Responders, func(x Responder) bool { return x.Name == r.Name })
		if i < 0 {
			if r.Order == 0 {
				for _, x := range inc.Responders {
					r.Order = max(r.Order, x.Order)
				}
				r.Order++
			}
			inc.Responders = append(inc.Responders, r)
			continue
		}
		x := &inc.Responders[i]
		if r.Role != "" {
			x.Role = r.Role
		}
		if r.Engaged {
			x.Engaged = true
		}
		if !r.Paged.IsZero() {
			x.Paged = r.Paged
		}
		if r.Order != 0 {
			x.Order = r.Order
		}
	}
	inc.Links = append(inc.Links, p.AddLinks...)
	for _, name := range p.AddSLOs {
		if !slices.Contains(inc.SLOs, name) {
			inc.SLOs = append(inc.SLOs, name)
		}
	}
	// A time that marks a stage moves the status with it, so that
	// `update --mitigated 10:41Z` is all it takes.
	target := inc.Status
	if p.Status != nil {
		target = *p.Status
	} else if !p.Reopen {
		switch {
		case p.Resolved != nil && target.rank() < Resolved.rank():
			target = Resolved
		case p.Mitigated != nil && target.rank() < Mitigated.rank():
			target = Mitigated
		}
	}
	if err := s.move(inc, target, p.Reopen, now); err != nil {
		return err
	}
	inc.Updated = now
	return s.validate(inc, prev)
}

// move changes the status: forward freely (setting the stage's time to
// now when it is missing), backward only when reopening.
func (s *Service) move(inc *Incident, to Status, reopen bool, now time.Time) error {
	if to.rank() < 0 {
		return fmt.Errorf("%w: status %q: want one of %s", ErrInvalid, to, joinStrings(statuses))
	}
	from := inc.Status
	if to.rank() < from.rank() && !reopen {
		return fmt.Errorf("%w: status cannot go back from %s to %s; reopen the incident to do that", ErrInvalid, from, to)
	}
	if reopen && to == from && from == PostmortemDone {
		to = Resolved
	}
	if to.rank() >= Mitigated.rank() && inc.Mitigated.IsZero() {
		inc.Mitigated = now
	}
	if to.rank() >= Resolved.rank() && inc.Resolved.IsZero() {
		inc.Resolved = now
	}
	if to.rank() < Resolved.rank() && reopen {
		inc.Resolved = time.Time{}
	}
	if to.rank() < Mitigated.rank() && reopen {
		inc.Mitigated = time.Time{}
	}
	if to == PostmortemDone && strings.TrimSpace(inc.Postmortem) == "" {
		return fmt.Errorf("%w: incident %d has no postmortem stored yet: store one (postmortem --set) before marking it done", ErrInvalid, inc.ID)
	}
	inc.Status = to
	return nil
}

// AddEntry adds a timeline entry.
func (s *Service) AddEntry(ctx context.Context, id, version int64, e Entry) (*Incident, error) {
	now := s.opt.Now().UTC()
	if e.At.IsZero() {
		e.At = now
	}
	k, err := ParseKind(string(e.Kind))
	if err != nil {
		return nil, err
	}
	e.Kind, e.Seq, e.Text = k, 0, strings.TrimSpace(e.Text)
	if e.Text == "" {
		return nil, fmt.Errorf("%w: timeline entry text is empty", ErrInvalid)
	}
	inc, err := s.opt.Store.UpdateIncident(ctx, id, func(inc *Incident) error {
		if err := s.admit(inc, version, false); err != nil {
			return err
		}
		inc.Timeline = append(inc.Timeline, e)
		inc.Updated = now
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.decorate(inc), nil
}

// RepairInput is a new repair item.
type RepairInput struct {
	Title string `json:"title"`
	Term  Term   `json:"term,omitempty"`
	Phase Phase  `json:"phase"`
	Owner string `json:"owner,omitempty"`
	// Due defaults to ShortTermDue after now for short-term items; DueIn
	// sets it relative to now instead.
	Due   time.Time `json:"due,omitzero"`
	DueIn Dur       `json:"due_in_seconds,omitempty"`
	Link  string    `json:"link,omitempty"`
}

// AddRepair adds a repair item to an incident. A title the incident's
// items already have (ignoring case and punctuation) is refused.
func (s *Service) AddRepair(ctx context.Context, id, version int64, in RepairInput) (*Incident, error) {
	now := s.opt.Now().UTC()
	term, err := ParseTerm(string(in.Term))
	if err != nil {
		return nil, err
	}
	phase, err := ParsePhase(string(in.Phase))
	if err != nil {
		return nil, err
	}
	r := RepairItem{IncidentID: id, Title: strings.TrimSpace(in.Title), Term: term, Phase: phase, Owner: in.Owner,
		Status: RepairOpen, Created: now, Due: in.Due.UTC(), Link: in.Link}
	if NormalizeTitle(r.Title) == "" {
		return nil, fmt.Errorf("%w: repair item title is empty", ErrInvalid)
	}
	if r.Link != "" {
		if err := checkLink(r.Link); err != nil {
			return nil, fmt.Errorf("%w: repair item link: %v", ErrInvalid, err)
		}
	}
	if in.DueIn < 0 || (in.DueIn > 0 && !in.Due.IsZero()) {
		return nil, fmt.Errorf("%w: give a due date or a positive time until due, not both", ErrInvalid)
	}
	if in.DueIn > 0 {
		r.Due = now.Add(time.Duration(in.DueIn))
	}
	if r.Due.IsZero() && term == ShortTerm {
		r.Due = now.Add(s.cfg.ShortTermDue)
	}
	inc, err := s.opt.Store.UpdateIncident(ctx, id, func(inc *Incident) error {
		if err := s.admit(inc, version, false); err != nil {
			return err
		}
		norm := NormalizeTitle(r.Title)
		for _, x := range inc.Repairs {
			if NormalizeTitle(x.Title) == norm {
				return fmt.Errorf("%w: incident %d already has repair item %d %q", ErrDuplicate, id, x.ID, x.Title)
			}
		}
		if r.Owner == "" {
			f := inc.Facts()
			if o := s.cfg.OwnerOf(&f); o != NoOwner {
				r.Owner = o
			}
		}
		inc.Repairs = append(inc.Repairs, r)
		inc.Updated = now
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.decorate(inc), nil
}

// RepairPatch changes a repair item.
type RepairPatch struct {
	Status *RepairStatus `json:"status,omitempty"`
	Owner  *string       `json:"owner,omitempty"`
	Due    *time.Time    `json:"due,omitempty"`
	Link   *string       `json:"link,omitempty"`
	Phase  *Phase        `json:"phase,omitempty"`
}

// UpdateRepair changes a repair item of an incident. Repair items of a
// closed incident may still be worked on: closing them is the point.
func (s *Service) UpdateRepair(ctx context.Context, id, itemID, version int64, p RepairPatch) (*Incident, error) {
	now := s.opt.Now().UTC()
	inc, err := s.opt.Store.UpdateIncident(ctx, id, func(inc *Incident) error {
		if version != 0 && version != inc.Version {
			return &ConflictError{ID: inc.ID, Expected: version, Actual: inc.Version}
		}
		i := slices.IndexFunc(inc.Repairs, func(r RepairItem) bool { return r.ID == itemID })
		if i < 0 {
			return fmt.Errorf("incident %d: repair item %d: %w", id, itemID, ErrNotFound)
		}
		r := &inc.Repairs[i]
		if p.Status != nil {
			st, err := ParseRepairStatus(string(*p.Status))
			if err != nil {
				return err
			}
			if st != r.Status {
				r.Status = st
				r.Closed = time.Time{}
				if st != RepairOpen {
					r.Closed = now
				}
			}
		}
		if p.Owner != nil {
			r.Owner = *p.Owner
		}
		if p.Due != nil {
			r.Due = p.Due.UTC()
		}
		if p.Link != nil {
			if *p.Link != "" {
				if err := checkLink(*p.Link); err != nil {
					return fmt.Errorf("%w: repair item link: %v", ErrInvalid, err)
				}
			}
			r.Link = *p.Link
		}
		if p.Phase != nil {
			ph, err := ParsePhase(string(*p.Phase))
			if err != nil {
				return err
			}
			r.Phase = ph
		}
		inc.Updated = now
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.decorate(inc), nil
}

// AlertSignal is an alert that opens an incident or attaches to one: a
// page-severity alert of nines, or an Alertmanager notification.
type AlertSignal struct {
	Service  string
	GroupKey string
	Title    string
	// SLO is the SLO the alert is about, when known.
	SLO string
	// Severity is the incident severity (the configured alert severity
	// when zero).
	Severity   int
	DetectedAt time.Time
	// Resolved says the alert stopped firing at ResolvedAt (DetectedAt
	// when zero).
	Resolved   bool
	ResolvedAt time.Time
	// Link points at the alert's source (a generator or Alertmanager URL).
	Link string
	// ImpactStart is when users first felt what the alert is about (zero
	// when the alert does not say), and ImpactReason why that moment: an
	// incident opened by the alert records them as its impact start and a
	// timeline entry, so TTD runs from there to DetectedAt.
	ImpactStart  time.Time
	ImpactReason string
	// Notes are problems with the alert worth a line in the timeline.
	Notes []string
}

// OpenFromAlert opens an incident for a firing alert, detected by
// monitoring at the alert's time, or attaches the alert to the incident
// of the same service and group key that is not resolved yet. A resolved
// alert marks that incident mitigated (resolution stays a human call);
// one with no incident to attach to is ignored (nil, nil).
func (s *Service) OpenFromAlert(ctx context.Context, a AlertSignal) (*Incident, error) {
	now := s.opt.Now().UTC()
	if a.DetectedAt.IsZero() {
		a.DetectedAt = now
	}
	a.DetectedAt = a.DetectedAt.UTC()
	if a.Severity == 0 {
		a.Severity = s.cfg.AlertSeverity
	}
	if strings.TrimSpace(a.GroupKey) == "" {
		return nil, fmt.Errorf("%w: alert without a group key", ErrInvalid)
	}
	if err := s.checkServices([]string{a.Service}); err != nil {
		return nil, err
	}
	title := strings.TrimSpace(a.Title)
	if title == "" {
		title = "alert " + a.GroupKey
	}
	inc, err := s.opt.Store.OpenOrAttach(ctx, a.Service, a.GroupKey, func(found *Incident) (*Incident, error) {
		if found == nil {
			if a.Resolved {
				return nil, nil
			}
			inc := &Incident{Title: title, Services: []string{a.Service}, Severity: a.Severity, Status: Open,
				DetectedBy: ByMonitoring, GroupKey: a.GroupKey, Detected: a.DetectedAt, Created: now, Updated: now,
				Timeline: []Entry{{At: a.DetectedAt, Kind: Decode, Text: "alert fired: " + title, Author: "nines"}}}
			if s.knownSLO(a.SLO) {
				inc.SLOs = []string{a.SLO}
			} else if s.opt.SLOsOf != nil {
				inc.SLOs = s.opt.SLOsOf(a.Service)
			}
			if a.Link != "" {
				inc.Links = []Link{{Title: "alert source", URL: a.Link}}
			}
			a.impact(inc)
			if err := s.validate(inc, nil); err != nil {
				return nil, err
			}
			return inc, nil
		}
		prev := recordedOf(found)
		if s.knownSLO(a.SLO) && !slices.Contains(found.SLOs, a.SLO) {
			found.SLOs = append(found.SLOs, a.SLO)
		}
		if !a.Resolved {
			found.Timeline = append(found.Timeline, Entry{At: a.DetectedAt, Kind: Decode, Text: "alert firing: " + title, Author: "nines"})
			a.impact(found)
			found.Updated = now
			return found, nil
		}
		at := a.ResolvedAt
		if at.IsZero() {
			at = now
		}
		at = at.UTC()
		found.Timeline = append(found.Timeline, Entry{At: at, Kind: Assessment, Text: "alert resolved: " + title, Author: "nines"})
		if found.Mitigated.IsZero() && !at.Before(found.Detected) && (found.Engaged.IsZero() || !at.Before(found.Engaged)) {
			found.Mitigated = at
			if found.Status == Open {
				found.Status = Mitigated
			}
		}
		found.Updated = now
		return found, s.validate(found, prev)
	})
	if err != nil || inc == nil {
		return nil, err
	}
	return s.storeBurn(ctx, inc, now), nil
}

// impact gives inc the alert's impact start, with a timeline entry saying
// why, unless inc has one already (a responder's, or an earlier alert's).
// An impact start after inc was detected, or one that could not be read,
// is left for a responder, and the timeline says so once (a group repeats
// every few hours while it fires). An impact start at or before the
// detection keeps the incident's times in order.
func (a *AlertSignal) impact(inc *Incident) {
	if !inc.ImpactStart.IsZero() {
		return
	}
	note := func(text string) {
		if !slices.ContainsFunc(inc.Timeline, func(e Entry) bool { return e.Text == text }) {
			inc.Timeline = append(inc.Timeline, Entry{At: a.DetectedAt, Kind: Assessment, Text: text, Author: "nines"})
		}
	}
	for _, n := range a.Notes {
		note(n)
	}
	switch {
	case a.ImpactStart.IsZero():
		return
	case a.ImpactStart.After(inc.Detected):
		note(fmt.Sprintf("the alert puts the impact start at %s, after the incident was detected at %s; impact start left for a responder to set",
			a.ImpactStart.Format(time.RFC3339), inc.Detected.UTC().Format(time.RFC3339)))
		return
	}
	inc.ImpactStart = a.ImpactStart.UTC()
	text := "impact started"
	if a.ImpactReason != "" {
		text += ": " + a.ImpactReason
	}
	inc.Timeline = append(inc.Timeline, Entry{At: inc.ImpactStart, Kind: Assessment, Text: text, Author: "nines"})
}

// storeBurn recomputes and stores the budget burned after a change. It
// runs outside the change's transaction because it reads rollups; a
// failure to store it is not the change's failure (Get recomputes it).
func (s *Service) storeBurn(ctx context.Context, inc *Incident, now time.Time) *Incident {
	if s.opt.Budget != nil && len(inc.SLOs) > 0 {
		s.refreshBurn(ctx, inc, now)
		// Derived figures: a failed write leaves the previous ones, and the
		// incident's own change has already been stored.
		_, _ = s.opt.Store.SetBurns(ctx, inc.ID, inc.Version, inc.Burn)
	}
	return s.decorate(inc)
}

// Metrics computes the incident figures (see Compute) from the store.
func (s *Service) Metrics(ctx context.Context, q MetricsQuery) (*Report, error) {
	burns, err := s.opt.Store.Burns(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.Refresh(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Compute(s.cfg, q, s.facts, burns), nil
}

// Refresh brings the facts the reports use up to date with the store,
// reading only the incidents changed since the last refresh. Reports
// call it; calling it once at start-up makes the first report as quick
// as the others.
func (s *Service) Refresh(ctx context.Context) error {
	// One refresh reads the store at a time, without s.mu: reports on the
	// facts already held go on meanwhile, and the next refresh reads only
	// what changed since this one.
	s.refreshing.Lock()
	defer s.refreshing.Unlock()
	s.mu.RLock()
	since := s.gen
	s.mu.RUnlock()
	var changed []Facts
	gen, err := s.opt.Store.IncidentFactsSince(ctx, since, func(f *Facts) error {
		changed = append(changed, *f)
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index == nil {
		s.index = map[int64]int{}
	}
	for i := range changed {
		f := &changed[i]
		if j, ok := s.index[f.ID]; ok {
			s.facts[j] = *f
			continue
		}
		s.index[f.ID] = len(s.facts)
		s.facts = append(s.facts, *f)
	}
	s.gen = gen
	return nil
}

// Debt computes repair debt and virtual repair debt (see ComputeDebt) as
// of now.
func (s *Service) Debt(ctx context.Context, q DebtQuery) (*DebtReport, error) {
	if err := s.Refresh(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	gen, fresh := s.gen, s.haveRepairs && s.repairsGen == s.gen
	s.mu.RUnlock()
	if !fresh {
		// Read at or after generation gen, outside s.mu: a write in
		// between only makes the items newer than the facts, and the next
		// report reads again.
		repairs, err := s.opt.Store.RepairItems(ctx)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		if !s.haveRepairs || s.repairsGen < gen {
			s.repairs, s.repairsGen, s.haveRepairs = repairs, gen, true
		}
		s.mu.Unlock()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return ComputeDebt(s.cfg, q, s.opt.Now().UTC(), s.facts, s.repairs), nil
}

// knownSLO reports whether an alert's SLO can be linked: an alert from
// another system may name SLOs nines does not have.
func (s *Service) knownSLO(name string) bool {
	if name == "" {
		return false
	}
	return s.opt.SLOs == nil || slices.Contains(s.opt.SLOs(), name)
}

// checkLink accepts absolute http and https URLs only: links are shown as
// anchors in the UI and in postmortems, where another scheme
// (javascript:, data:) would run or mislead.
func checkLink(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want an absolute http or https URL", s)
	}
	return nil
}
