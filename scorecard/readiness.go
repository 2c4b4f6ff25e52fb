package scorecard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/incident"
)

// Readiness checks, by name as readiness.yaml writes them.
const (
	CheckOwner        = "owner"
	CheckOnCall       = "oncall"
	CheckSLO          = "slo"
	CheckPlaybooks    = "playbooks"
	CheckPostmortems  = "postmortems"
	CheckRepairs      = "repairs"
	CheckDependencies = "dependencies"
)

// checkNames are every check, in the order results list them.
var checkNames = []string{CheckOwner, CheckOnCall, CheckSLO, CheckPlaybooks, CheckPostmortems, CheckRepairs, CheckDependencies}

// Level is one rung of readiness: a service reaches it when every check
// of this level and of the levels below passes.
type Level struct {
	Name   string
	Checks []string
}

// ReadinessConfig is a loaded readiness.yaml.
type ReadinessConfig struct {
	// Levels, lowest first.
	Levels []Level
	// PostmortemDays is how long after a SEV1 or SEV2 incident is
	// resolved its postmortem may take.
	PostmortemDays int
	// PlaybookTimeout bounds one probe of a playbook URL.
	PlaybookTimeout time.Duration
	// PlaybooksDir is a directory of Markdown playbooks; an alert's entry
	// exists when a heading there has the alert's anchor.
	PlaybooksDir string
}

// DefaultReadiness is bronze (someone answers for it and it is measured),
// silver (its pages have playbooks and its worst incidents postmortems),
// gold (its repairs ship on time and its calls are all declared).
func DefaultReadiness() *ReadinessConfig {
	return &ReadinessConfig{
		Levels: []Level{
			{Name: "bronze", Checks: []string{CheckOwner, CheckOnCall, CheckSLO}},
			{Name: "silver", Checks: []string{CheckPlaybooks, CheckPostmortems}},
			{Name: "gold", Checks: []string{CheckRepairs, CheckDependencies}},
		},
		PostmortemDays: 5, PlaybookTimeout: 5 * time.Second,
	}
}

// Result is one check of one service.
type Result struct {
	Check  string `json:"check"`
	Level  string `json:"level"`
	Passed bool   `json:"passed"`
	// Detail says what was found; Fix, for a failed check, what to do.
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Readiness is the production readiness of one service.
type Readiness struct {
	Service string `json:"service"`
	// Level is the highest level reached ("" for none); Next the one
	// above it, whose failing checks are the work to do.
	Level  string   `json:"level"`
	Next   string   `json:"next,omitempty"`
	Checks []Result `json:"checks"`
}

// IncidentLister lists a service's incidents (*incident.Service).
type IncidentLister interface {
	List(ctx context.Context, f incident.Filter) ([]incident.Incident, error)
}

// DependencyAuditor names the services a service was seen calling that
// the catalog does not declare (the traces' comparison with the catalog).
type DependencyAuditor interface {
	Undeclared(ctx context.Context, service string) ([]string, error)
}

// Prober says whether a playbook URL answers.
type Prober interface {
	Probe(ctx context.Context, url string) error
}

// Assessor checks the production readiness of services. Incidents and
// Dependencies may be nil: their checks then fail saying what is missing,
// rather than passing on no evidence.
type Assessor struct {
	Config    *ReadinessConfig
	Services  func() []Service
	SLOs      SLOFinder
	Incidents IncidentLister
	Deps      DependencyAuditor
	Prober    Prober
	// Playbooks holds the Markdown playbooks (Config.PlaybooksDir opened).
	Playbooks fs.FS
	Now       func() time.Time
}

var _ IncidentLister = (*incident.Service)(nil)

// Assess checks every service, or the one named by only.
func (a *Assessor) Assess(ctx context.Context, only string) ([]Readiness, error) {
	var services []Service
	for _, s := range a.Services() {
		if only == "" || s.Name == only {
			services = append(services, s)
		}
	}
	if only != "" && len(services) == 0 {
		return nil, fmt.Errorf("%w: no service is named %q", ErrUnknown, only)
	}
	anchors, err := a.anchors()
	if err != nil {
		return nil, err
	}
	pages := make([][]page, len(services))
	pageErrs := make([]error, len(services))
	var urls []string
	for i := range services {
		// An SLO that is not loaded, or whose alerting does not compile,
		// fails this service's playbook check, not every service's.
		pages[i], pageErrs[i] = a.pages(&services[i])
		for _, p := range pages[i] {
			if p.url != "" {
				urls = append(urls, p.url)
			}
		}
	}
	probed := a.probeAll(ctx, urls)
	now := a.Now()
	out := make([]Readiness, len(services))
	for i := range services {
		s := &services[i]
		results := map[string]Result{}
		for _, name := range a.usedChecks() {
			r, err := a.check(ctx, name, s, pages[i], pageErrs[i], anchors, probed, now)
			if err != nil {
				return nil, fmt.Errorf("readiness of %s: %w", s.Name, err)
			}
			r.Check = name
			results[name] = r
		}
		out[i] = a.grade(s.Name, results)
	}
	return out, nil
}

// usedChecks are the checks some level names, in the order of checkNames.
func (a *Assessor) usedChecks() []string {
	var out []string
	for _, name := range checkNames {
		for _, l := range a.Config.Levels {
			if slices.Contains(l.Checks, name) {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

// grade walks the levels up: the service holds each level whose checks
// pass while every level below is held.
func (a *Assessor) grade(service string, results map[string]Result) Readiness {
	r := Readiness{Service: service, Checks: []Result{}}
	held := true
	for _, l := range a.Config.Levels {
		ok := true
		for _, c := range l.Checks {
			res := results[c]
			res.Level = l.Name
			r.Checks = append(r.Checks, res)
			ok = ok && res.Passed
		}
		switch {
		case held && ok:
			r.Level = l.Name
		case held:
			r.Next, held = l.Name, false
		}
	}
	return r
}

// page is one alert that can page, with where its playbook entry is.
type page struct {
	slo, alert, anchor string
	url                string // "" when the service names no playbook URL
}

// pages lists the alerts of the service's SLOs that can page: page tiers
// in force, and the no-data alert when it pages.
func (a *Assessor) pages(s *Service) ([]page, error) {
	var out []page
	for _, name := range s.SLOs {
		def, err := a.SLOs.SLO(name)
		if err != nil {
			return nil, fmt.Errorf("SLO %s of service %s: %w", name, s.Name, err)
		}
		pol, err := alert.PolicyFor(def).Complete()
		if err != nil {
			return nil, fmt.Errorf("alerts of SLO %s: %w", name, err)
		}
		var alerts []string
		for _, t := range pol.Tiers {
			if t.Severity == alert.Page && !t.Disabled {
				alerts = append(alerts, t.Name)
			}
		}
		if pol.NoData.Severity == alert.Page && pol.NoData.After > 0 {
			alerts = append(alerts, alert.NoDataAlert)
		}
		for _, al := range alerts {
			p := page{slo: name, alert: al, anchor: Anchor(name + " " + al)}
			if s.Playbook != "" {
				p.url = PlaybookURL(s.Playbook, p.anchor)
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// PlaybookURL is where the playbook entry with anchor lives under base:
// base with {alert} replaced by the anchor when it holds one, else
// base#anchor.
func PlaybookURL(base, anchor string) string {
	if strings.Contains(base, "{alert}") {
		return strings.ReplaceAll(base, "{alert}", url.PathEscape(anchor))
	}
	base, _, _ = strings.Cut(base, "#")
	return base + "#" + anchor
}

// Anchor is the anchor a Markdown heading gets, as GitHub and GitLab
// make it: lower case, letters, digits, '-' and '_' kept, spaces to '-',
// the rest dropped. "checkout-availability: page-fast" →
// "checkout-availability-page-fast".
func Anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// anchors collects the anchors of every heading of the Markdown files in
// Playbooks, and explicit ones ({#id}), with the file each is in.
func (a *Assessor) anchors() (map[string]string, error) {
	out := map[string]string{}
	if a.Playbooks == nil {
		return out, nil
	}
	err := fs.WalkDir(a.Playbooks, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".md") {
			return nil
		}
		f, err := a.Playbooks.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		fence := false
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if strings.HasPrefix(line, "```") || strings.HasPrefix(line, "~~~") {
				fence = !fence
			}
			if fence || !strings.HasPrefix(line, "#") {
				continue
			}
			h := strings.TrimSpace(strings.TrimLeft(line, "#"))
			if i := strings.LastIndex(h, "{#"); i >= 0 && strings.HasSuffix(h, "}") {
				out[h[i+2:len(h)-1]] = p
				h = strings.TrimSpace(h[:i])
			}
			if _, ok := out[Anchor(h)]; !ok {
				out[Anchor(h)] = p
			}
		}
		return sc.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("reading the playbooks: %w", err)
	}
	return out, nil
}

// probeAll probes each distinct URL (without its fragment) once, a few at
// a time, and returns what became of each: nil when it answered.
func (a *Assessor) probeAll(ctx context.Context, urls []string) map[string]error {
	out := map[string]error{}
	var todo []string
	for _, u := range urls {
		k := stripFragment(u)
		if _, ok := out[k]; !ok {
			out[k] = nil
			todo = append(todo, k)
		}
	}
	if a.Prober == nil || len(todo) == 0 {
		for _, k := range todo {
			out[k] = errors.New("nothing probes playbook URLs here")
		}
		return out
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, k := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := a.Prober.Probe(ctx, k)
			mu.Lock()
			out[k] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func stripFragment(u string) string {
	u, _, _ = strings.Cut(u, "#")
	return u
}

func (a *Assessor) check(ctx context.Context, name string, s *Service, pages []page, pagesErr error, anchors map[string]string, probed map[string]error, now time.Time) (Result, error) {
	switch name {
	case CheckOwner:
		if len(s.Owners) == 0 {
			return Result{Detail: "no owner", Fix: "set owner: in the service's catalog entry"}, nil
		}
		return Result{Passed: true, Detail: "owned by " + strings.Join(s.Owners, ", ")}, nil
	case CheckOnCall:
		if s.OnCall == "" {
			return Result{Detail: "no on-call rotation", Fix: "set oncall: in the service's catalog entry to the rotation that answers its pages"}, nil
		}
		return Result{Passed: true, Detail: "on-call: " + s.OnCall}, nil
	case CheckSLO:
		var loaded, missing []string
		for _, name := range s.SLOs {
			if _, err := a.SLOs.SLO(name); err != nil {
				missing = append(missing, name)
			} else {
				loaded = append(loaded, name)
			}
		}
		switch {
		case len(loaded) == 0 && len(missing) > 0:
			return Result{Detail: "no SLO loaded: " + strings.Join(missing, ", ") + " named but not loaded", Fix: "load the SLO specs nines serve --slos reads, or correct the names"}, nil
		case len(loaded) == 0:
			return Result{Detail: "no SLO", Fix: "write an SLO spec with service: " + s.Name + " (see docs/eval.md)"}, nil
		}
		return Result{Passed: true, Detail: fmt.Sprintf("%d SLOs: %s", len(loaded), strings.Join(loaded, ", "))}, nil
	case CheckPlaybooks:
		if pagesErr != nil {
			return Result{Detail: pagesErr.Error(), Fix: "name only SLOs that are loaded, and fix their alerting sections (nines lint)"}, nil
		}
		return a.checkPlaybooks(s, pages, anchors, probed), nil
	case CheckPostmortems:
		return a.checkPostmortems(ctx, s, now)
	case CheckRepairs:
		return a.checkRepairs(ctx, s, now)
	case CheckDependencies:
		if a.Deps == nil {
			return Result{Detail: "no traces to compare the catalog with", Fix: "send OTLP traces to nines serve (POST /v1/traces) so calls are detected"}, nil
		}
		extra, err := a.Deps.Undeclared(ctx, s.Name)
		if err != nil {
			return Result{}, err
		}
		if len(extra) > 0 {
			return Result{Detail: "calls seen but not declared: " + strings.Join(extra, ", "),
				Fix: "declare them under dependencies: in the catalog entry (hard or soft, sync or async), or stop the calls"}, nil
		}
		return Result{Passed: true, Detail: "every call seen is declared"}, nil
	}
	return Result{}, fmt.Errorf("unknown check %q", name)
}

func (a *Assessor) checkPlaybooks(s *Service, pages []page, anchors map[string]string, probed map[string]error) Result {
	if len(s.SLOs) == 0 {
		return Result{Detail: "no SLO, so nothing pages", Fix: "write an SLO first; its paging alerts then need playbook entries"}
	}
	if len(pages) == 0 {
		return Result{Passed: true, Detail: "no alert of its SLOs pages"}
	}
	var missing []string
	var fixes []string
	for _, p := range pages {
		if _, ok := anchors[p.anchor]; ok {
			continue
		}
		if p.url != "" {
			if err := probed[stripFragment(p.url)]; err != nil {
				missing = append(missing, fmt.Sprintf("%s: %s (%v)", alert.Title(p.slo, p.alert, alert.Page), p.url, err))
			}
			continue
		}
		missing = append(missing, alert.Title(p.slo, p.alert, alert.Page)+": no entry")
		fixes = append(fixes, "#"+p.anchor)
	}
	if len(missing) == 0 {
		return Result{Passed: true, Detail: fmt.Sprintf("%d paging alerts, each with a playbook entry", len(pages))}
	}
	fix := "publish the playbook pages so they answer"
	switch {
	case s.Playbook == "" && a.Playbooks == nil:
		fix = "set playbook: in the catalog entry to the playbook's base URL, or give a playbooks directory"
	case len(fixes) > 0:
		fix = "add headings with these anchors to a playbook: " + strings.Join(fixes, " ")
	}
	return Result{Detail: fmt.Sprintf("%d of %d paging alerts lack a playbook entry: %s", len(missing), len(pages), strings.Join(missing, "; ")), Fix: fix}
}

// incidents lists the service's incidents; without incident records it
// returns the failing result that says so instead.
func (a *Assessor) incidents(ctx context.Context, s *Service) ([]incident.Incident, *Result, error) {
	if a.Incidents == nil {
		return nil, &Result{Detail: "no incident records", Fix: "run nines serve with incidents enabled"}, nil
	}
	list, err := a.Incidents.List(ctx, incident.Filter{Service: s.Name, Limit: 10_000})
	if err != nil {
		return nil, &Result{}, fmt.Errorf("listing the incidents of %s: %w", s.Name, err)
	}
	return list, nil, nil
}

// checkPostmortems fails for each SEV1 or SEV2 incident resolved more
// than PostmortemDays ago without a postmortem. nines does not record
// when a postmortem was written, so one written late passes once it is
// there; a missing one fails from the day it is due.
func (a *Assessor) checkPostmortems(ctx context.Context, s *Service, now time.Time) (Result, error) {
	list, missing, err := a.incidents(ctx, s)
	if missing != nil || err != nil {
		return *missing, err
	}
	days := time.Duration(a.Config.PostmortemDays) * 24 * time.Hour
	var late []string
	var ids []string
	due := 0
	for _, inc := range list {
		if inc.Severity < 1 || inc.Severity > 2 || inc.Resolved.IsZero() || now.Sub(inc.Resolved) < days {
			continue
		}
		due++
		if inc.Status == incident.PostmortemDone || strings.TrimSpace(inc.Postmortem) != "" {
			continue
		}
		late = append(late, fmt.Sprintf("#%d (SEV%d, resolved %s)", inc.ID, inc.Severity, inc.Resolved.UTC().Format(time.DateOnly)))
		ids = append(ids, fmt.Sprint(inc.ID))
	}
	if len(late) > 0 {
		return Result{Detail: fmt.Sprintf("%d SEV1/2 incidents without a postmortem %d days after they were resolved: %s", len(late), a.Config.PostmortemDays, strings.Join(late, ", ")),
			Fix: "write them: nines incident postmortem ID --set FILE --done, for " + strings.Join(ids, ", ")}, nil
	}
	return Result{Passed: true, Detail: fmt.Sprintf("%d SEV1/2 incidents due a postmortem, all written", due)}, nil
}

func (a *Assessor) checkRepairs(ctx context.Context, s *Service, now time.Time) (Result, error) {
	list, missing, err := a.incidents(ctx, s)
	if missing != nil || err != nil {
		return *missing, err
	}
	var late []string
	open := 0
	for _, inc := range list {
		for _, r := range inc.Repairs {
			if r.OpenAt(now) {
				open++
			}
			if r.OverdueAt(now) {
				late = append(late, fmt.Sprintf("%q of #%d, due %s", r.Title, inc.ID, r.Due.UTC().Format(time.DateOnly)))
			}
		}
	}
	if len(late) > 0 {
		return Result{Detail: fmt.Sprintf("%d repair items overdue: %s", len(late), strings.Join(late, "; ")),
			Fix: "ship them, or agree a new due date with their owners (nines incident repair)"}, nil
	}
	return Result{Passed: true, Detail: fmt.Sprintf("%d repair items open, none overdue", open)}, nil
}

// HTTPProber probes a URL with HEAD, and with GET when HEAD is not
// allowed, within Timeout; 2xx and 3xx answer. Redirects are not
// followed: a 3xx is an answer.
type HTTPProber struct {
	Client  *http.Client
	Timeout time.Duration
}

// Probe implements Prober.
func (p *HTTPProber) Probe(ctx context.Context, u string) error {
	client := *cmpClient(p.Client)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	status, err := p.do(ctx, &client, http.MethodHead, u)
	if err == nil && (status == http.StatusMethodNotAllowed || status == http.StatusNotImplemented) {
		status, err = p.do(ctx, &client, http.MethodGet, u)
	}
	switch {
	case err != nil:
		return err
	case status < 200 || status > 399:
		return fmt.Errorf("HTTP %d", status)
	}
	return nil
}

func (p *HTTPProber) do(ctx context.Context, c *http.Client, method, u string) (int, error) {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "nines-readiness")
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return 0, fmt.Errorf("no answer within %s", timeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func cmpClient(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{}
	}
	return c
}
