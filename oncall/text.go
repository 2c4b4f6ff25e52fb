package oncall

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nines-sre/nines/incident"
)

// WriteText writes the report for people: per rotation, the month
// against the month before, each person, the shifts over the limit and
// the month-over-month view.
func WriteText(w io.Writer, rep *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "On-call load for %s (each rotation in its own time zone), computed %s\n", rep.Month, rep.Generated.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Incident limit: %s per 12 h shift, in proportion for other shift lengths.\n", num(rep.IncidentsPer12h))
	if rep.UnreadableHistory > 0 {
		fmt.Fprintf(&b, "WARNING: %d delivery records could not be read (damaged rows of the store's state under notify/history/); the pages they were are not counted.\n", rep.UnreadableHistory)
	}
	if len(rep.Rotations) == 0 {
		b.WriteString("\nNo rotations: declare them under rotations: in the catalog (docs/oncall.md).\n")
	}
	for i := range rep.Rotations {
		writeRotation(&b, &rep.Rotations[i])
	}
	if len(rep.Unassigned) > 0 {
		b.WriteString("\nPages of services no rotation takes (give the service an on-call rotation in the catalog):\n")
		for _, u := range rep.Unassigned {
			name := u.Service
			if name == "" {
				name = "(no service label)"
			}
			fmt.Fprintf(&b, "  %s: %d\n", name, u.Pages)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// label is the width of the first column: the tables align right for
// the numbers, and names padded to one width read from the left.
const label = 38

func writeRotation(b *strings.Builder, r *RotationLoad) {
	fmt.Fprintf(b, "\nRotation %s: %s, %s shifts handed over at %s, working hours %s, night %s\n", r.Name, r.Zone, r.Shift, r.Handoff, r.Working, r.Night)
	if len(r.Services) > 0 {
		fmt.Fprintf(b, "Services: %s\n", strings.Join(r.Services, ", "))
	} else {
		b.WriteString("Services: none name this rotation as their on-call\n")
	}
	st := r.Staffing
	switch {
	case !st.OK:
		fmt.Fprintf(b, "People: SHORT: %s\n", st.Problem)
	case st.PerSite:
		var sites []string
		for _, s := range st.Sites {
			sites = append(sites, fmt.Sprintf("%s %d", s.Name, s.People))
		}
		fmt.Fprintf(b, "People: %s (at least %d per site)\n", strings.Join(sites, ", "), st.Minimum)
	default:
		fmt.Fprintf(b, "People: %d (at least %d)\n", st.People, st.Minimum)
	}
	m, p := &r.Month, &r.Previous
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%*s\t%s\t%s\tchange\t\n", label, "", m.Month, p.Month)
	row := func(name string, a, c float64, f func(float64) string, delta bool) {
		d := ""
		if delta && a != c {
			d = signed(a-c, f)
		}
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t\n", label, name, f(a), f(c), d)
	}
	count := func(x float64) string { return fmt.Sprintf("%d", int(x)) }
	ratio := func(x float64) string { return fmt.Sprintf("%.2f", x) }
	row("shifts", m.Shifts, p.Shifts, ratio, true)
	row("pages", float64(m.Pages), float64(p.Pages), count, true)
	row("pages per shift", m.PagesPerShift, p.PagesPerShift, ratio, true)
	row("outside working hours", float64(m.OffHours), float64(p.OffHours), count, true)
	row("at night", float64(m.Night), float64(p.Night), count, true)
	row("incidents", float64(m.Incidents), float64(p.Incidents), count, true)
	row("incidents per shift", m.IncidentsPerShift, p.IncidentsPerShift, ratio, true)
	row(fmt.Sprintf("most in one shift (limit %s)", num(r.Limit)), float64(m.MaxInShift), float64(p.MaxInShift), count, true)
	row("shifts over the limit", float64(m.OverLimit), float64(p.OverLimit), count, true)
	row("time engaged", m.EngagedSeconds, p.EngagedSeconds, seconds, true)
	row("incidents lacking engaged or mitigated", float64(m.EngagedUnknown), float64(p.EngagedUnknown), count, false)
	row("pages that led to no incident", float64(m.NoIncident), float64(p.NoIncident), count, true)
	row("pages resolved with no action", float64(m.NoAction), float64(p.NoAction), count, true)
	if m.Pages > 0 && p.Pages > 0 {
		row("noise share", m.NoiseShare, p.NoiseShare, percent, true)
	} else {
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t\t\n", label, "noise share", share(m.NoiseShare, m.Pages), share(p.NoiseShare, p.Pages))
	}
	if m.Uncovered+p.Uncovered > 0 {
		row("pages before the first shift", float64(m.Uncovered), float64(p.Uncovered), count, false)
	}
	tw.Flush()

	b.WriteString("\n")
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("person")
	for _, x := range r.People {
		width = max(width, len(personName(&x)))
	}
	fmt.Fprintf(tw, "%-*s\tshifts\tpages\tper shift\toff-hours\tnight\tincidents\tengaged\tnoise\tpages %s\t\n", width, "person", p.Month)
	for _, x := range r.People {
		f := &x.Month
		fmt.Fprintf(tw, "%-*s\t%.2f\t%d\t%.2f\t%d\t%d\t%d\t%s\t%d\t%d\t\n", width, personName(&x), f.Shifts, f.Pages, f.PagesPerShift, f.OffHours, f.Night,
			f.Incidents, seconds(f.EngagedSeconds), f.Noise, x.Previous.Pages)
	}
	tw.Flush()

	if len(r.OverShifts) > 0 {
		fmt.Fprintf(b, "\nShifts over the limit of %s incidents:\n", num(r.Limit))
		// Read back from JSON the times carry only an offset: the
		// rotation's zone names it again.
		loc, err := time.LoadLocation(r.Zone)
		if err != nil {
			loc = time.UTC
		}
		for _, s := range r.OverShifts {
			fmt.Fprintf(b, "  %s to %s  %s  %d incidents\n", s.Start.In(loc).Format("2006-01-02 15:04 MST"), s.End.In(loc).Format("2006-01-02 15:04 MST"), s.Person, s.Incidents)
		}
	}

	b.WriteString("\nMonth over month:\n")
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\t", label, "")
	for _, h := range r.History {
		fmt.Fprintf(tw, "%s\t", h.Month)
	}
	fmt.Fprint(tw, "\n")
	for _, tr := range r.Trends() {
		fmt.Fprintf(tw, "%-*s\t", label, tr.Name)
		for _, v := range tr.Values {
			fmt.Fprintf(tw, "%s\t", v)
		}
		fmt.Fprint(tw, "\n")
	}
	tw.Flush()
}

// Trend is one line of the month-over-month view: a figure for each
// month of History.
type Trend struct {
	Name   string
	Values []string
}

// Trends are the lines of the month-over-month view, as the report and
// the UI show them; a month without pages has no noise share ("–").
func (r *RotationLoad) Trends() []Trend {
	var out []Trend
	for _, line := range []struct {
		name string
		f    func(*MonthFigures) string
	}{
		{"pages", func(h *MonthFigures) string { return fmt.Sprint(h.Pages) }},
		{"at night", func(h *MonthFigures) string { return fmt.Sprint(h.Night) }},
		{"incidents", func(h *MonthFigures) string { return fmt.Sprint(h.Incidents) }},
		{"shifts over the limit", func(h *MonthFigures) string { return fmt.Sprint(h.OverLimit) }},
		{"noise share", func(h *MonthFigures) string { return share(h.NoiseShare, h.Pages) }},
	} {
		tr := Trend{Name: line.name}
		for i := range r.History {
			tr.Values = append(tr.Values, line.f(&r.History[i]))
		}
		out = append(out, tr)
	}
	return out
}

// share writes a share of pages, "–" when there were none.
func share(x float64, pages int) string {
	if pages == 0 {
		return "–"
	}
	return percent(x)
}

func personName(x *Person) string {
	name := x.Name
	if x.Site != "" {
		name += " (" + x.Site + ")"
	}
	if !x.Member {
		name += " (stand-in)"
	}
	return name
}

func num(x float64) string { return fmt.Sprintf("%g", math.Round(x*100)/100) }

func seconds(s float64) string {
	if s == 0 {
		return "0"
	}
	return incident.FormatDuration(time.Duration(s * float64(time.Second)))
}

func percent(x float64) string { return fmt.Sprintf("%.0f%%", x*100) }

// signed writes a change with its sign; shares change in points.
func signed(d float64, f func(float64) string) string {
	if fmt.Sprint(f(1)) == "100%" {
		return fmt.Sprintf("%+.0fpp", d*100)
	}
	if d < 0 {
		return "-" + f(-d)
	}
	return "+" + f(d)
}
