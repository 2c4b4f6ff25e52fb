package incident

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"text/template"
	"time"
)

// postmortemTemplate is blameless by construction: it asks what the
// system and the circumstances made hard, never who erred, and every
// prompt speaks of actions and conditions rather than people.
const postmortemTemplate = `# Postmortem: {{.Title}}

Incident {{.ID}} · {{join .Services ", "}} · {{sevName .Severity}} · status {{.Status}}

This review is blameless. It describes what happened and what the system,
tools and circumstances made easy or hard, so that the next response is
faster. People acted on what they knew at the time.

## Summary

{{if .Summary}}{{.Summary}}{{else}}_What happened, in two or three sentences: the trigger, the effect on users, how it was mitigated._{{end}}

| | time (UTC) | since previous |
|---|---|---|
| impact started | {{stamp .ImpactStart}} | |
| detected ({{.DetectedBy}}) | {{stamp .Detected}} | TTD {{dur .Metrics.TTD}} |
| engaged | {{stamp .Engaged}} | TTE {{dur .Metrics.TTE}} |
| mitigated | {{stamp .Mitigated}} | TTF {{dur .Metrics.TTF}} |
| resolved | {{stamp .Resolved}} | |

Time to mitigate (TTM = TTD + TTE + TTF): {{dur .Metrics.TTM}}.{{with .Goals}} Goals for {{$.Service}}: {{.}}.{{end}}
Responders: {{len .Responders}}{{with .Metrics.Hops}}, on-call hops: {{.}}{{end}}.

## User impact

_Who was affected, how, and for how long._
{{if .Burn}}
Error budget burned between impact start and mitigation:

| SLO | from | to | burned | share of the window's budget |
|---|---|---|---|---|
{{range .Burn}}{{if .Error}}| {{.SLO}} | {{stamp .From}} | {{stamp .To}} | unknown: {{.Error}} | |
{{else}}| {{.SLO}} | {{stamp .From}} | {{stamp .To}} | {{num .Spent}} {{.Unit}} | {{pct .Share}} |
{{end}}{{end}}{{else}}
No SLO is linked to this incident, so the budget burned is not known.
{{end}}
## Timeline

{{if .Timeline}}| time (UTC) | activity | what happened |
|---|---|---|
{{range .Timeline}}| {{stamp .At}} | {{kind .Kind}} | {{cell .Text}}{{with .Author}} ({{.}}){{end}} |
{{end}}{{else}}_No timeline entries were recorded._
{{end}}
## Contributing factors

_The conditions that together allowed this to happen: triggers, latent
faults, missing safeguards. Ask "how did this make sense at the time?"._

## What went well

_Which tools, signals and practices helped detect, diagnose and mitigate._

## What was hard

_Where the response was slowed: missing signals, confusing dashboards,
hand-offs, access, unclear ownership._

## Action items

{{if .Repairs}}| # | repair item | phase | term | owner | due | status |
|---|---|---|---|---|---|---|
{{range .Repairs}}| {{.ID}} | {{if .Link}}[{{cell .Title}}]({{.Link}}){{else}}{{cell .Title}}{{end}} | {{.Phase}} | {{.Term}} | {{or .Owner "-"}} | {{day .Due}} | {{.Status}} |
{{end}}{{else}}_No repair items yet._
{{end}}{{with .Missing}}
Goals missed without a repair item for the phase: {{.}}.
{{end}}
## Lessons learned

_What we learned about the system and how we respond to it._
`

type postmortemData struct {
	*Incident
	Goals   string
	Missing string
}

// Postmortem renders the postmortem template from the incident record:
// summary, user impact with the budget burned, timeline, contributing
// factors, what went well, what was hard, action items (the repair items)
// and lessons learned. It is pure.
func Postmortem(cfg *Config, inc *Incident) (string, error) {
	cfg = cfg.withDefaults()
	if inc.Metrics == nil {
		t := inc.Times()
		inc.Metrics = &t
	}
	d := postmortemData{Incident: inc}
	g := cfg.GoalsFor(inc.Service())
	var goals []string
	for _, m := range Metrics {
		if v := g.Get(m); v > 0 {
			goals = append(goals, fmt.Sprintf("%s %s", strings.ToUpper(string(m)), fmtDur(v)))
		}
	}
	d.Goals = strings.Join(goals, ", ")
	f := inc.Facts()
	var missing []string
	for _, m := range missedRepairs(cfg, &f) {
		missing = append(missing, fmt.Sprintf("%s %s over the %s goal (add a repair item for %s)", strings.ToUpper(string(m.Metric)),
			fmtDur(time.Duration(m.Value)), fmtDur(time.Duration(m.Goal)), m.Phase))
	}
	d.Missing = strings.Join(missing, "; ")
	funcs := template.FuncMap{
		"join":  strings.Join,
		"stamp": func(t time.Time) string { return stampOf(t) },
		"day": func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.UTC().Format("2006-01-02")
		},
		"dur": func(d *Dur) string {
			if d == nil {
				return "unknown"
			}
			return fmtDur(time.Duration(*d))
		},
		"num": func(f float64) string { return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", f), "0"), ".") },
		"pct": func(f float64) string { return fmt.Sprintf("%.2f %%", f*100) },
		"cell": func(s string) string {
			return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
		},
		"kind": func(k Kind) string {
			for _, x := range Kinds {
				if x.Kind == k {
					return x.About
				}
			}
			return string(k)
		},
		"sevName": func(level int) string {
			for _, s := range cfg.Severities {
				if s.Level == level {
					return s.Name
				}
			}
			return fmt.Sprintf("severity %d", level)
		},
	}
	t, err := template.New("postmortem").Funcs(funcs).Parse(postmortemTemplate)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("postmortem of incident %d: %w", inc.ID, err)
	}
	return b.String(), nil
}

func stampOf(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// fmtDur writes a duration the way incident reviews speak: 17m, 1h05m,
// 2d3h, 45s.
func fmtDur(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%s%ds", neg, int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		d = d.Round(time.Second)
		if s := d % time.Minute; s != 0 {
			return fmt.Sprintf("%s%dm%02ds", neg, int(d/time.Minute), int(s/time.Second))
		}
		return fmt.Sprintf("%s%dm", neg, int(d/time.Minute))
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%s%dh%02dm", neg, int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	d = d.Round(time.Hour)
	return fmt.Sprintf("%s%dd%dh", neg, int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// FormatDuration writes a duration as the reports do (17m, 1h05m).
func FormatDuration(d time.Duration) string { return fmtDur(d) }

// Postmortem returns the stored postmortem of an incident, or one
// rendered from the record when none is stored.
func (s *Service) Postmortem(ctx context.Context, id int64) (text string, stored bool, err error) {
	inc, err := s.Get(ctx, id)
	if err != nil {
		return "", false, err
	}
	if strings.TrimSpace(inc.Postmortem) != "" {
		return inc.Postmortem, true, nil
	}
	text, err = Postmortem(s.cfg, inc)
	return text, false, err
}

// SetPostmortem stores an edited postmortem with the incident; done also
// moves the incident to postmortem done (resolving it first if needed).
func (s *Service) SetPostmortem(ctx context.Context, id, version int64, text string, done bool) (*Incident, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("%w: the postmortem is empty", ErrInvalid)
	}
	if err := (limit{"postmortem", len(text), MaxPostmortem, "bytes", "shorten it, or link to a document"}).err(); err != nil {
		return nil, err
	}
	now := s.opt.Now().UTC()
	inc, err := s.opt.Store.UpdateIncident(ctx, id, func(inc *Incident) error {
		if err := s.admit(inc, version, false); err != nil {
			return err
		}
		prev := recordedOf(inc)
		inc.Postmortem = text
		inc.Updated = now
		if done {
			if err := s.move(inc, PostmortemDone, false, now); err != nil {
				return err
			}
		}
		return s.validate(inc, prev)
	})
	if err != nil {
		return nil, err
	}
	return s.decorate(inc), nil
}
