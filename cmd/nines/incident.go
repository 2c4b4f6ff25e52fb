package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nines-sre/nines/demo"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/slo"
)

const incidentAbout = `Record incidents in a running nines serve and report on them: time to
detect, engage, fix and mitigate (TTD, TTE, TTF, TTM = TTD + TTE + TTF)
against each service's goals, autodetect rate, on-call hops, repair debt
and missed repairs. See docs/incidents.md.

Subcommands:
  open        open an incident
  update ID   set times, status, severity, responders
  show ID     print an incident with its times, timeline and repair items
  list        list incidents
  timeline ID add a timeline entry: timeline ID [--at T] [--kind K] TEXT
  repair ID   add a repair item, or change one with --item N
  postmortem ID   print the postmortem; --set FILE stores an edited one
  metrics     TTx, autodetect rate and hops per service or owner and period
  debt        open repair items and missed repairs over time

Times are RFC 3339 (2026-11-25T10:02:00Z), without seconds (2026-11-25T10:02Z),
or a time of day (10:19Z, UTC) on the day of the incident.

Examples:
  nines incident open --service checkout --severity 2 --title "5xx on pay" \
        --impact-start 2026-11-25T10:02Z --detected-by customer
  nines incident update 42 --engaged 10:19Z --responder alice --mitigated 10:41Z
  nines incident timeline 42 --at 10:25Z --kind sacrifice "shed 20% of traffic"
  nines incident repair 42 --title "alert on pay 5xx" --phase detection --due 7d
  nines incident postmortem 42 > pm-42.md
  nines incident postmortem 42 --set pm-42.md --done
  nines incident metrics --service checkout --by month
  nines incident debt --by owner`

type incidentCmd struct {
	name, synopsis string
	run            func(ctx context.Context, e *env, c *client, args []string) error
}

func incidentCommands() []incidentCmd {
	return []incidentCmd{
		{"open", "--service S --severity N --title T [flags]", runIncidentOpen},
		{"update", "ID [flags]", runIncidentUpdate},
		{"show", "ID [--json]", runIncidentShow},
		{"list", "[--service S] [--status S] [--json]", runIncidentList},
		{"timeline", "ID [--at T] [--kind K] TEXT", runIncidentTimeline},
		{"repair", "ID --title T --phase P [--due 7d] | ID --item N --status done", runIncidentRepair},
		{"postmortem", "ID [--set FILE [--done]]", runIncidentPostmortem},
		{"metrics", "[--service S] [--owner O] [--by month] [--group service]", runIncidentMetrics},
		{"debt", "[--by owner|service|all] [--period month]", runIncidentDebt},
	}
}

func runIncident(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		out := e.stdout
		if len(args) == 0 {
			out = e.stderr
		}
		fmt.Fprintf(out, "Usage: nines incident <subcommand> [flags]\n\n%s\n", incidentAbout)
		if len(args) == 0 {
			return &exitError{code: exitUsage, silent: true, err: errors.New("no subcommand")}
		}
		return nil
	}
	for _, sc := range incidentCommands() {
		if sc.name == args[0] {
			return sc.run(ctx, e, nil, args[1:])
		}
	}
	return usageError("incident: unknown subcommand %q (see nines incident --help)", args[0])
}

// incidentFlags makes the flag set of a subcommand, with the client flags.
func incidentFlags(e *env, name, synopsis string, c *client) *flag.FlagSet {
	fs := newFlagSet(e, "incident "+name, synopsis, "See nines incident --help.")
	clientFlags(fs, c)
	return fs
}

// parseMixed parses flags that may come before, between and after
// positional arguments (nines incident update 42 --engaged 10:19Z), and
// returns the positional ones.
func parseMixed(fs *flag.FlagSet, e *env, args []string) (pos []string, help bool, err error) {
	if err := applyEnv(fs); err != nil {
		return nil, false, usageError("%s: %v", fs.Name(), err)
	}
	for {
		if help, err = parseFlagsWithArgs(fs, e, args); help || err != nil {
			return nil, help, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, false, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), false, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func idArg(name string, pos []string, extra bool) (int64, error) {
	if len(pos) == 0 {
		return 0, usageError("incident %s: the incident ID is required (nines incident %s 42 …)", name, name)
	}
	if len(pos) > 1 && !extra {
		return 0, usageError("incident %s: unexpected argument %q", name, pos[1])
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(pos[0], "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, usageError("incident %s: %q is not an incident ID", name, pos[0])
	}
	return id, nil
}

// listFlag collects a repeatable flag; commas separate values too.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*l = append(*l, x)
		}
	}
	return nil
}

// retroactive is how long after its impact start an incident counts as
// recorded after the fact: then its detection time must be given, not
// taken as now. A day leaves room for slow detection in the incident at
// hand (a customer report in the afternoon of a morning's outage).
const retroactive = 24 * time.Hour

// parseWhen reads a time: RFC 3339, RFC 3339 without seconds, or a time
// of day (15:04Z, 15:04:05Z, 15:04 in UTC) on the day of ref.
func parseWhen(flagName, v string, ref time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02 15:04Z07:00", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	for _, layout := range []string{"15:04Z07:00", "15:04:05Z07:00", "15:04", "15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			if ref.IsZero() {
				return time.Time{}, usageError("--%s %s: a time of day needs a day; give the full time (2026-11-25T%s)", flagName, v, v)
			}
			ref = ref.UTC()
			t = t.UTC()
			return time.Date(ref.Year(), ref.Month(), ref.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC), nil
		}
	}
	return time.Time{}, usageError("--%s %q: want a time such as 2026-11-25T10:02Z or 10:02Z", flagName, v)
}

// timeFlags are time flags read once the reference day is known.
type timeFlags map[string]*string

func (tf timeFlags) add(fs *flag.FlagSet, name, usage string) {
	tf[name] = fs.String(name, "", usage)
}

func (tf timeFlags) get(name string, ref time.Time) (*time.Time, error) {
	v := tf[name]
	if v == nil || *v == "" {
		return nil, nil
	}
	t, err := parseWhen(name, *v, ref)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// refDay is the day a time of day refers to for an incident.
func refDay(inc *incident.Incident) time.Time {
	for _, t := range []time.Time{inc.ImpactStart, inc.Detected, inc.Created} {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func (c *client) incident(ctx context.Context, id int64) (*incident.Incident, error) {
	var inc incident.Incident
	if err := c.get(ctx, fmt.Sprintf("/api/v1/incidents/%d", id), &inc); err != nil {
		return nil, err
	}
	return &inc, nil
}

func ifMatch(v int64) map[string]string { return map[string]string{"If-Match": fmt.Sprintf(`"%d"`, v)} }

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runIncidentOpen(ctx context.Context, e *env, _ *client, args []string) error {
	var c client
	fs := incidentFlags(e, "open", "--service S --severity N --title T [flags]", &c)
	var services, slos, links, responders listFlag
	fs.Var(&services, "service", "affected `service` (repeatable; the first is the primary one)")
	fs.Var(&slos, "slo", "affected `SLO` (repeatable; default: every SLO of the services)")
	fs.Var(&links, "link", "`URL` of a chat channel, dashboard or ticket (repeatable)")
	fs.Var(&responders, "responder", "`name[:role]` paged, in paging order (repeatable)")
	severity := fs.String("severity", "", "severity `level` (1 is worst) or name (SEV2)")
	title := fs.String("title", "", "short `title`")
	summary := fs.String("summary", "", "what happened, in a few sentences")
	owner := fs.String("owner", "", "owning `team` when not the service's")
	by := fs.String("detected-by", "other", "who noticed first: monitoring, customer or other (say monitoring only when an alert found it: it counts towards the autodetect rate)")
	asJSON := fs.Bool("json", false, "print the incident as JSON")
	tf := timeFlags{}
	tf.add(fs, "impact-start", "when users were first affected")
	tf.add(fs, "detected", "when an operator could see it, or now (the default; required with an --impact-start over a day ago)")
	tf.add(fs, "engaged", "when the right responder engaged")
	tf.add(fs, "mitigated", "when user impact ended")
	pos, help, err := parseMixed(fs, e, args)
	if help || err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("incident open: unexpected argument %q", pos[0])
	}
	in := incident.OpenInput{Title: *title, Summary: *summary, Services: services, Owner: *owner, SLOs: slos}
	if in.DetectedBy, err = incident.ParseDetectedBy(*by); err != nil {
		return usageError("incident open: --detected-by: %v", err)
	}
	if *severity == "" {
		return usageError("incident open: --severity is required (1 is worst)")
	}
	if in.Severity, err = c.severity(ctx, *severity); err != nil {
		return fmt.Errorf("incident open: %w", err)
	}
	impact, err := tf.get("impact-start", time.Time{})
	if err != nil {
		return err
	}
	ref := time.Time{}
	if impact != nil {
		ref, in.ImpactStart = *impact, *impact
	}
	switch det := strings.TrimSpace(*tf["detected"]); {
	case strings.EqualFold(det, "now"):
		*tf["detected"] = "" // the server stamps it
	case det == "" && impact != nil && time.Since(*impact) > retroactive:
		// Detection defaults to now, which for an incident recorded
		// after the fact is a made-up TTD of days, and the engaged and
		// mitigated times given next would come before it.
		return usageError("incident open: --impact-start %s is more than a day ago, so this incident is recorded after the fact: say when it was detected with --detected (a time such as %s, or a time of day on the impact's day), or --detected now if nobody noticed it before",
			impact.Format("2006-01-02T15:04Z"), impact.Add(10*time.Minute).Format("2006-01-02T15:04Z"))
	}
	for name, dst := range map[string]*time.Time{"detected": &in.Detected, "engaged": &in.Engaged, "mitigated": &in.Mitigated} {
		t, err := tf.get(name, ref)
		if err != nil {
			return err
		}
		if t != nil {
			*dst = *t
		}
	}
	for _, l := range links {
		in.Links = append(in.Links, incident.Link{URL: l})
	}
	if in.Responders, err = parseResponders(responders, 1); err != nil {
		return err
	}
	var inc incident.Incident
	if err := c.do(ctx, "POST", "/api/v1/incidents", in, &inc, nil); err != nil {
		return fmt.Errorf("incident open: %w", err)
	}
	if *asJSON {
		return printJSON(e.stdout, &inc)
	}
	_, err = fmt.Fprintf(e.stdout, "opened incident %d (%s, severity %d): %s\n", inc.ID, strings.Join(inc.Services, ", "), inc.Severity, inc.Title)
	return err
}

func parseResponders(list []string, firstOrder int) ([]incident.Responder, error) {
	var out []incident.Responder
	for i, v := range list {
		name, role, _ := strings.Cut(v, ":")
		r, err := incident.ParseRole(role)
		if err != nil {
			return nil, usageError("--responder %q: %v", v, err)
		}
		out = append(out, incident.Responder{Name: strings.TrimSpace(name), Role: r, Order: firstOrder + i})
	}
	return out, nil
}

func runIncidentUpdate(ctx context.Context, e *env, _ *client, args []string) error {
	var c client
	fs := incidentFlags(e, "update", "ID [flags]", &c)
	var paged, responders, links, slos listFlag
	fs.Var(&paged, "paged", "`name[:role]` paged who did not take the incident on (repeatable, in paging order): on-call hops")
	fs.Var(&responders, "responder", "`name[:role]` paged after those; with --engaged the last one is the responder who engaged")
	fs.Var(&links, "link", "`URL` to add (repeatable)")
	fs.Var(&slos, "slo", "affected `SLO` to add (repeatable)")
	title := fs.String("title", "", "new title")
	summary := fs.String("summary", "", "new summary")
	severity := fs.String("severity", "", "new severity `level`")
	status := fs.String("status", "", "open, mitigated, resolved or postmortem-done")
	reopen := fs.Bool("reopen", false, "allow the status to go back (and a closed incident to change)")
	by := fs.String("detected-by", "", "monitoring, customer or other")
	owner := fs.String("owner", "", "owning `team`")
	asJSON := fs.Bool("json", false, "print the incident as JSON")
	tf := timeFlags{}
	for _, n := range []string{"impact-start", "detected", "engaged", "mitigated", "resolved"} {
		tf.add(fs, n, "set the "+n+" time")
	}
	pos, help, err := parseMixed(fs, e, args)
	if help || err != nil {
		return err
	}
	id, err := idArg("update", pos, false)
	if err != nil {
		return err
	}
	cur, err := c.incident(ctx, id)
	if err != nil {
		return fmt.Errorf("incident update: %w", err)
	}
	p := incident.Patch{Reopen: *reopen}
	ref := refDay(cur)
	for name, dst := range map[string]**time.Time{"impact-start": &p.ImpactStart, "detected": &p.Detected, "engaged": &p.Engaged, "mitigated": &p.Mitigated, "resolved": &p.Resolved} {
		if *dst, err = tf.get(name, ref); err != nil {
			return err
		}
	}
	setStr := func(dst **string, v string) {
		if v != "" {
			*dst = &v
		}
	}
	setStr(&p.Title, *title)
	setStr(&p.Summary, *summary)
	setStr(&p.Owner, *owner)
	if *severity != "" {
		n, err := c.severity(ctx, *severity)
		if err != nil {
			return fmt.Errorf("incident update: %w", err)
		}
		p.Severity = &n
	}
	if *status != "" {
		st, err := incident.ParseStatus(*status)
		if err != nil {
			return usageError("incident update: --status: %v", err)
		}
		p.Status = &st
	}
	if *by != "" {
		d, err := incident.ParseDetectedBy(*by)
		if err != nil {
			return usageError("incident update: --detected-by: %v", err)
		}
		p.DetectedBy = &d
	}
	next := 1
	for _, r := range cur.Responders {
		next = max(next, r.Order+1)
	}
	all := append(slices.Clone([]string(paged)), responders...)
	rs, err := parseResponders(all, next)
	if err != nil {
		return err
	}
	for i := range rs {
		if j := slices.IndexFunc(cur.Responders, func(x incident.Responder) bool { return x.Name == rs[i].Name }); j >= 0 {
			rs[i].Order = cur.Responders[j].Order
		}
	}
	if p.Engaged != nil && len(responders) > 0 {
		rs[len(rs)-1].Engaged = true
	}
	p.Responders = rs
	for _, l := range links {
		p.AddLinks = append(p.AddLinks, incident.Link{URL: l})
	}
	p.AddSLOs = slos
	var inc incident.Incident
	if err := c.do(ctx, "PATCH", fmt.Sprintf("/api/v1/incidents/%d", id), p, &inc, ifMatch(cur.Version)); err != nil {
		return fmt.Errorf("incident update: %w", err)
	}
	if *asJSON {
		return printJSON(e.stdout, &inc)
	}
	_, err = fmt.Fprintf(e.stdout, "incident %d updated to version %d: %s\n", inc.ID, inc.Version, inc.Status)
	return err
}

func runIncidentShow(ctx context.Context, e *env, _ *client, args []string) error {
	var c client
	fs := incidentFlags(e, "show", "ID [--json]", &c)
	asJSON := fs.Bool("json", false, "print the API's JSON")
	pos, help, err := parseMixed(fs, e, args)
	if help || err != nil {
		return err
	}
	id, err := idArg("show", pos, false)
	if err != nil {
		return err
	}
	inc, err := c.incident(ctx, id)
	if err != nil {
		return fmt.Errorf("incident show: %w", err)
	}
	if *asJSON {
		return printJSON(e.stdout, inc)
	}
	return writeIncident(e.stdout, inc)
}

func fmtD(d *incident.Dur) string {
	if d == nil {
		return "?"
	}
	return incident.FormatDuration(time.Duration(*d))
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func writeIncident(w io.Writer, inc *incident.Incident) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "incident %d  %s\n", inc.ID, inc.Title)
	fmt.Fprintf(b, "  services   %s\n  severity   %d\n  status     %s (version %d)\n  detected   by %s\n",
		strings.Join(inc.Services, ", "), inc.Severity, inc.Status, inc.Version, inc.DetectedBy)
	if inc.Owner != "" {
		fmt.Fprintf(b, "  owner      %s\n", inc.Owner)
	}
	if inc.Summary != "" {
		fmt.Fprintf(b, "  summary    %s\n", inc.Summary)
	}
	m := inc.Metrics
	if m == nil {
		t := inc.Times()
		m = &t
	}
	fmt.Fprintf(b, "\n  impact start  %s\n  detected      %s  TTD %s\n  engaged       %s  TTE %s\n  mitigated     %s  TTF %s\n  resolved      %s\n  TTM %s",
		stamp(inc.ImpactStart), stamp(inc.Detected), fmtD(m.TTD), stamp(inc.Engaged), fmtD(m.TTE),
		stamp(inc.Mitigated), fmtD(m.TTF), stamp(inc.Resolved), fmtD(m.TTM))
	if m.Hops != nil {
		fmt.Fprintf(b, ", on-call hops %d", *m.Hops)
	}
	b.WriteString("\n")
	if len(inc.Responders) > 0 {
		b.WriteString("\nresponders (paging order)\n")
		rs := slices.Clone(inc.Responders)
		slices.SortFunc(rs, func(a, b incident.Responder) int { return a.Order - b.Order })
		for _, r := range rs {
			fmt.Fprintf(b, "  %d. %s", r.Order, r.Name)
			if r.Role != "" {
				fmt.Fprintf(b, " (%s)", r.Role)
			}
			if r.Engaged {
				b.WriteString(" engaged")
			}
			b.WriteString("\n")
		}
	}
	if len(inc.Burn) > 0 {
		b.WriteString("\nerror budget burned\n")
		for _, x := range inc.Burn {
			if x.Error != "" {
				fmt.Fprintf(b, "  %s: unknown (%s)\n", x.SLO, x.Error)
				continue
			}
			fmt.Fprintf(b, "  %s: %s %s, %.2f %% of the window's budget\n", x.SLO, strconv.FormatFloat(x.Spent, 'f', -1, 64), x.Unit, x.Share*100)
		}
	}
	if len(inc.Timeline) > 0 {
		b.WriteString("\ntimeline\n")
		for _, t := range inc.Timeline {
			fmt.Fprintf(b, "  %s  %-12s %s\n", t.At.UTC().Format("2006-01-02 15:04Z"), t.Kind, t.Text)
		}
	}
	if len(inc.Repairs) > 0 {
		b.WriteString("\nrepair items\n")
		for _, r := range inc.Repairs {
			due := "-"
			if !r.Due.IsZero() {
				due = r.Due.UTC().Format("2006-01-02")
			}
			fmt.Fprintf(b, "  #%d %-8s %-11s %-5s due %s  %s", r.ID, r.Status, r.Phase, r.Term, due, r.Title)
			if r.Owner != "" {
				fmt.Fprintf(b, " (%s)", r.Owner)
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func runIncidentList(ctx context.Context, e *env, _ *client, args []string) error {
	var c client
	fs := incidentFlags(e, "list", "[--service S] [--status S] [--json]", &c)
	service := fs.String("service", "", "only this `service`")
	status := fs.String("status", "", "only these `statuses` (comma-separated)")
	severity := fs.String("severity", "", "only this severity `level`")
	limit := fs.Int("limit", 50, "at most this many")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	pos, help, err := parseMixed(fs, e, args)
	if help || err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("incident list: unexpected argument %q", pos[0])
	}
	q := url.Values{}
	for k, v := range map[string]string{"service": *service, "status": *status, "severity": *severity} {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("limit", strconv.Itoa(*limit))
	var answer struct {
		Incidents []incident.Incident `json:"incidents"`
	}
	if err := c.get(ctx, "/api/v1/incidents?"+q.Encode(), &answer); err != nil {
		return fmt.Errorf("incident list: %w", err)
	}
	if *asJSON {
		return printJSON(e.stdout, answer)
	}
	if len(answer.Incidents) == 0 {
		_, err := fmt.Fprintln(e.stdout, "no incidents")
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEV\tSTATUS\tSERVICES\tIMPACT START\tTTM\tTITLE")
	for _, inc := range answer.Incidents {
		ttm := "?"
		if inc.Metrics != nil {
			ttm = fmtD(inc.Metrics.TTM)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", inc.ID, inc.Severity, inc.Status, strings.Join(inc.Services, ","), stamp(inc.ImpactStart), ttm, inc.Title)
	}
	return tw.Flush()
}

func runIncidentTimeline(ctx context.Context, e *env, _ *client, args []string) error {
	var c client
	fs := incidentFlags(e, "timeline", "ID [--at T] [--kind K] TEXT", &c)
	at := fs.String("at", "", "when it happened (default now)")
	kindNames := make([]string, len(incident.Kinds))
	for i, k := range incident.Kinds {
		kindNames[i] = string(k.Kind)
	}
	kind := fs.String("kind", "note", "activity: "+strings.Join(kindNames, ", "))
	author := fs.String("author", "", "who wrote it")
	pos, help, err := parseMixed(fs, e, args)
	if help || err != nil {
		return err
	}
	id, err := idArg("timeline", pos, true)
	if err != nil {
		return err
	}
	text := strings.TrimSpace(strings.Join(pos[1:], " "))
	if text == "" {
		return usageError("incident timeline: the entry's text is required (nines incident timeline 42 \"shed 20%% of traffic\")")
	}
	k, err := incident.ParseKind(*kind)
	if err != nil {
		return usageError("incident timeline: --kind: %v", err)
	}
	entry := struct {
		incident.Entry
		Version int64 `json:"version,omitempty"`
	}{Entry: incident.Entry{Kind: k, Text: text, Author: *author}}
	if *at != "" {
		cur, err := c.incident(ctx, id)
		if err != nil {
			return fmt.Errorf("incident timeline: %w", err)
		}
		if entry.At, err = parseWhen("at", *at, refDay(cur)); err != nil {
			return err
		}
	}
	var inc incident.Incident
	if err := c.do(ctx, "POST", fmt.Sprintf("/api/v1/incidents/%d/timeline", id), entry, &inc, nil); err != nil {
		return fmt.Errorf("incident timeline: %w", err)
	}
	_, err = fmt.Fprintf(e.stdout, "incident %d: timeline entry %d added\n", id, len(inc.Timeline))
	return err
}

func runIncidentRepair(ctx context.Context, e *env, _ *client, args []string) error {
	var c client
	fs := incidentFlags(e, "repair", "ID --title T --phase P [flags] | ID --item N [--status S]", &c)
	title := fs.String("title", "", "what the repair item does")
	phase := fs.String("phase", "", "phase it makes faster: detection, engagement, diagnosis or mitigation")
	term := fs.String("term", "short", "short (due within a week by default) or long")
	owner := fs.String("owner", "", "owning `team` (default: the service's owner)")
	due := fs.String("due", "", "due date (2026-12-02) or time from now (7d)")
	link := fs.String("link", "", "`URL` of the item in an external tracker")
	item := fs.Int64("item", 0, "change repair item `N` instead of adding one")
	status := fs.String("status", "", "with --item: open, done or wontfix")
	asJSON := fs.Bool("json", false, "print the incident as JSON")
	pos, help, err := parseMixed(fs, e, args)
	if help || err != nil {
		return err
	}
	id, err := idArg("repair", pos, false)
	if err != nil {
		return err
	}
	var dueAt time.Time
	var dueIn time.Duration
	if *due != "" {
		if d, derr := slo.ParseDuration(*due); derr == nil && d > 0 {
			dueIn = d
		} else if t, terr := time.Parse("2006-01-02", *due); terr == nil {
			dueAt = t
		} else if dueAt, err = parseWhen("due", *due, time.Time{}); err != nil {
			return usageError("incident repair: --due %q: want a date (2026-12-02) or a time from now (7d)", *due)
		}
	}
	var inc incident.Incident
	path := fmt.Sprintf("/api/v1/incidents/%d/repairs", id)
	if *item != 0 {
		var p incident.RepairPatch
		if *status != "" {
			st := incident.RepairStatus(*status)
			p.Status = &st
		}
		if *owner != "" {
			p.Owner = owner
		}
		if *link != "" {
			p.Link = link
		}
		if *phase != "" {
			ph := incident.Phase(*phase)
			p.Phase = &ph
		}
		if dueIn > 0 {
			return usageError("incident repair: with --item, give --due as a date")
		}
		if !dueAt.IsZero() {
			p.Due = &dueAt
		}
		if err := c.do(ctx, "PATCH", fmt.Sprintf("%s/%d", path, *item), p, &inc, nil); err != nil {
			return fmt.Errorf("incident repair: %w", err)
		}
	} else {
		if *title == "" || *phase == "" {
			return usageError("incident repair: --title and --phase are required to add an item (or --item N to change one)")
		}
		in := incident.RepairInput{Title: *title, Phase: incident.Phase(*phase), Term: incident.Term(*term), Owner: *owner,
			Due: dueAt, DueIn: incident.Dur(dueIn), Link: *link}
		if err := c.do(ctx, "POST", path, in, &inc, nil); err != nil {
			return fmt.Errorf("incident repair: %w", err)
		}
	}
	if *asJSON {
		return printJSON(e.stdout, &inc)
	}
	for _, r := range inc.Repairs {
		if (*item != 0 && r.ID == *item) || (*item == 0 && incident.NormalizeTitle(r.Title) == incident.NormalizeTitle(*title)) {
			due := "no due date"
			if !r.Due.IsZero() {
				due = "due " + r.Due.UTC().Format("2006-01-02")
			}
			_, err := fmt.Fprintf(e.stdout, "incident %d: repair item %d %s (%s, %s, %s)\n", id, r.ID, r.Status, r.Phase, r.Term, due)
			return err
		}
	}
	return nil
}

func runIncidentPostmortem(ctx context.Context, e *env, _ *client, args []string) error {
	var c client
	fs := incidentFlags(e, "postmortem", "ID [--set FILE [--done]]", &c)
	set := fs.String("set", "", "store this edited Markdown `file` (- for stdin) with the incident")
	done := fs.Bool("done", false, "with --set: mark the postmortem done (the incident takes no more edits)")
	pos, help, err := parseMixed(fs, e, args)
	if help || err != nil {
		return err
	}
	id, err := idArg("postmortem", pos, false)
	if err != nil {
		return err
	}
	var pm struct {
		Markdown string `json:"markdown"`
		Version  int64  `json:"version"`
	}
	path := fmt.Sprintf("/api/v1/incidents/%d/postmortem", id)
	if *set == "" {
		if *done {
			return usageError("incident postmortem: --done goes with --set FILE")
		}
		if err := c.get(ctx, path, &pm); err != nil {
			return fmt.Errorf("incident postmortem: %w", err)
		}
		_, err := io.WriteString(e.stdout, pm.Markdown)
		return err
	}
	var text []byte
	if *set == "-" {
		text, err = io.ReadAll(io.LimitReader(e.stdin, 2<<20))
	} else {
		text, err = os.ReadFile(*set)
	}
	if err != nil {
		return usageError("incident postmortem: --set: %v", err)
	}
	cur, err := c.incident(ctx, id)
	if err != nil {
		return fmt.Errorf("incident postmortem: %w", err)
	}
	in := map[string]any{"markdown": string(text), "done": *done}
	if err := c.do(ctx, "PUT", path, in, &pm, ifMatch(cur.Version)); err != nil {
		return fmt.Errorf("incident postmortem: %w", err)
	}
	state := "stored"
	if *done {
		state = "stored; postmortem done"
	}
	_, err = fmt.Fprintf(e.stdout, "incident %d: postmortem %s (%d bytes, version %d)\n", id, state, len(text), pm.Version)
	return err
}

func runIncidentMetrics(ctx context.Context, e *env, _ *client, args []string) error {
	var c client
	fs := incidentFlags(e, "metrics", "[--service S] [--owner O] [--by month] [--group service]", &c)
	service := fs.String("service", "", "only this `service`")
	owner := fs.String("owner", "", "only this `owner`")
	by := fs.String("by", "month", "time bucket: week, month, quarter or all")
	group := fs.String("group", "service", "break down by service, owner or all")
	from := fs.String("from", "", "impact start from this time")
	to := fs.String("to", "", "impact start before this time")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	pos, help, err := parseMixed(fs, e, args)
	if help || err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("incident metrics: unexpected argument %q", pos[0])
	}
	if err := checkBucket("metrics", *by); err != nil {
		return err
	}
	q := url.Values{"by": {*by}, "group": {*group}}
	for k, v := range map[string]string{"service": *service, "owner": *owner} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for k, v := range map[string]string{"from": *from, "to": *to} {
		if v != "" {
			t, err := parseWhen(k, v, time.Time{})
			if err != nil {
				return err
			}
			q.Set(k, t.Format(time.RFC3339))
		}
	}
	var rep incident.Report
	if err := c.get(ctx, "/api/v1/incidents/metrics?"+q.Encode(), &rep); err != nil {
		return fmt.Errorf("incident metrics: %w", err)
	}
	if *asJSON {
		return printJSON(e.stdout, &rep)
	}
	return writeMetrics(e.stdout, &rep)
}

// checkBucket catches a grouping given to --by: --by is the time bucket
// and --group the breakdown in every incident report (and in the API's
// by= and group=), and "--by owner" was once the debt report's grouping.
func checkBucket(cmd, by string) error {
	if g := incident.GroupBy(strings.ToLower(strings.TrimSpace(by))); g == incident.ByOwner || g == incident.ByService {
		return usageError("incident %s: --by %s: --by is the time bucket (week, month, quarter or all); to break down by %s write --group %s", cmd, by, by, by)
	}
	return nil
}

func writeMetrics(w io.Writer, rep *incident.Report) error {
	if len(rep.Groups) == 0 {
		_, err := fmt.Fprintln(w, "no incidents")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(string(rep.Group))+"\tPERIOD\tN\tTTD p50/p90 (goal, missed)\tTTE p50/p90\tTTF p50/p90\tTTM p50/p90\tAUTODETECT\tHOPS\tRESPONDERS\tMISSED REPAIRS")
	cell := func(s incident.Stat) string {
		if s.N == 0 {
			return fmt.Sprintf("- (%d incomplete)", s.Incomplete)
		}
		out := fmtD(&s.Median) + "/" + fmtD(&s.P90)
		if s.Goal > 0 {
			out += fmt.Sprintf(" (%s, %d)", fmtD(&s.Goal), s.Misses)
		}
		if s.Incomplete > 0 {
			out += fmt.Sprintf(" +%d?", s.Incomplete)
		}
		return out
	}
	for _, g := range rep.Groups {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%.0f %%\t%.1f\t%.1f\t%d\n", g.Key, g.Bucket, g.Count,
			cell(g.TTD), cell(g.TTE), cell(g.TTF), cell(g.TTM), g.AutodetectRate*100, g.Hops.Mean, g.Responders.Mean, g.MissedRepairs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\np50/p90 are nearest-rank percentiles; (goal, missed) counts incidents over their service's goal; +N? incidents missing a timestamp.")
	if len(rep.Incomplete) > 0 {
		fmt.Fprintf(w, "\nincomplete incidents (%s):\n", shown(len(rep.Incomplete), rep.IncompleteTotal))
		for _, in := range rep.Incomplete {
			fmt.Fprintf(w, "  %d  %s  %s: no %s\n", in.ID, in.Service, in.Title, strings.Join(in.Missing, ", "))
		}
	}
	if len(rep.Missed) > 0 {
		fmt.Fprintf(w, "\nmissed repairs (%s): goals missed without a repair item for the phase\n", shown(len(rep.Missed), rep.MissedTotal))
		for _, m := range rep.Missed {
			fmt.Fprintf(w, "  %d  %s  %s %s over the %s goal: add a repair item for %s\n", m.IncidentID, m.Service, strings.ToUpper(string(m.Metric)), fmtD(&m.Value), fmtD(&m.Goal), m.Phase)
		}
	}
	return nil
}

func runIncidentDebt(ctx context.Context, e *env, _ *client, args []string) error {
	var c client
	fs := incidentFlags(e, "debt", "[--group owner|service|all] [--by month]", &c)
	group := fs.String("group", "owner", "break down by owner, service or all")
	by := fs.String("by", "month", "bucket of the series over time: week, month, quarter or all (none)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	pos, help, err := parseMixed(fs, e, args)
	if help || err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("incident debt: unexpected argument %q", pos[0])
	}
	if err := checkBucket("debt", *by); err != nil {
		return err
	}
	var rep incident.DebtReport
	if err := c.get(ctx, "/api/v1/incidents/debt?"+url.Values{"group": {*group}, "by": {*by}}.Encode(), &rep); err != nil {
		return fmt.Errorf("incident debt: %w", err)
	}
	if *asJSON {
		return printJSON(e.stdout, &rep)
	}
	fmt.Fprintf(e.stdout, "repair debt at %s: %s, %d overdue; %s\n\n", stamp(rep.Now), plural(rep.Open, "open repair item"), rep.Overdue, plural(rep.MissedTotal, "missed repair"))
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(string(rep.Group))+"\tOPEN\tOVERDUE\tMISSED REPAIRS")
	for _, t := range rep.Totals {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", t.Key, t.Open, t.Overdue, t.MissedTotal)
	}
	tw.Flush()
	if len(rep.Series) > 0 {
		fmt.Fprintf(e.stdout, "\nover time (at the end of each %s):\n", rep.By)
		tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.ToUpper(string(rep.Group))+"\tPERIOD\tOPEN\tOVERDUE\tMISSED\tMISSED (TOTAL)")
		for _, p := range rep.Series {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", p.Key, p.Bucket, p.Open, p.Overdue, p.Missed, p.MissedTotal)
		}
		tw.Flush()
	}
	if len(rep.Items) > 0 {
		fmt.Fprintf(e.stdout, "\nopen repair items, most overdue first (%s):\n", shown(len(rep.Items), rep.Open))
		for _, r := range rep.Items {
			due := "no due date"
			if !r.Due.IsZero() {
				due = "due " + r.Due.UTC().Format("2006-01-02")
				if r.Due.Before(rep.Now) {
					due += " (overdue)"
				}
			}
			fmt.Fprintf(e.stdout, "  incident %d #%d %s: %s [%s] %s\n", r.IncidentID, r.ID, cmpOr(r.Owner, incident.NoOwner), r.Title, r.Phase, due)
		}
	}
	if len(rep.Missed) > 0 {
		fmt.Fprintf(e.stdout, "\nmissed repairs, newest first (%s):\n", shown(len(rep.Missed), rep.MissedTotal))
		for _, m := range rep.Missed {
			fmt.Fprintf(e.stdout, "  incident %d (%s, %s): %s %s over the %s goal, no %s item\n", m.IncidentID, m.Service, m.Owner,
				strings.ToUpper(string(m.Metric)), fmtD(&m.Value), fmtD(&m.Goal), m.Phase)
		}
	}
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// newIncidentService is the incident service of nines serve: the
// configuration of --incidents (defaults without it), the engine's
// services, SLOs, budget and clock, the store.
func newIncidentService(eng *engine.Engine, db incident.Store, file string, isDemo bool, logger *slog.Logger) (*incident.Service, error) {
	cfg := &incident.Config{}
	if file == "" && isDemo {
		var err error
		if cfg, err = incident.ParseConfig("demo incidents", []byte(demo.IncidentsConfig)); err != nil {
			return nil, err
		}
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, usageError("serve: --incidents: %v", err)
		}
		if cfg, err = incident.ParseConfig(file, data); err != nil {
			return nil, usageError("serve: --incidents: %v", err)
		}
	}
	opt := server.IncidentOptions(eng, db, cfg)
	opt.Logger = logger
	return incident.New(opt)
}

// shown says how many of a list are printed.
func shown(n, total int) string {
	if n == total {
		return strconv.Itoa(n)
	}
	return fmt.Sprintf("latest %d of %d", n, total)
}

// severity reads --severity: a level (2), SEVn, or a name of the server's
// severity scale (asked for only then).
func (c *client) severity(ctx context.Context, v string) (int, error) {
	if n, err := strconv.Atoi(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(v)), "sev")); err == nil {
		return n, nil
	}
	var cfg struct {
		Severities []incident.Severity `json:"severities"`
	}
	if err := c.get(ctx, "/api/v1/incidents/config", &cfg); err != nil {
		return 0, err
	}
	var names []string
	for _, s := range cfg.Severities {
		if strings.EqualFold(s.Name, strings.TrimSpace(v)) {
			return s.Level, nil
		}
		names = append(names, fmt.Sprintf("%d (%s)", s.Level, s.Name))
	}
	return 0, usageError("--severity %q: want a level or a name of the scale: %s", v, strings.Join(names, ", "))
}
