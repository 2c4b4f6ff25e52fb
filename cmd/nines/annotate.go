package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

const annotateAbout = `Record a deploy (or another change) in a running nines serve, so the
budget charts and the burn-down show it where the burn starts. For
pipelines, after the rollout:

  nines annotate --slo checkout-availability --title "checkout $VERSION" \
      --url "$CI_PIPELINE_URL" --label version=$VERSION

--service annotates every SLO of a service; neither --slo nor --service,
every SLO. Exit code 0 when recorded, 2 otherwise.`

// labelFlags collects repeated --label k=v.
type labelFlags map[string]string

func (l labelFlags) String() string { return "" }

func (l labelFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%q: want key=value", v)
	}
	l[strings.TrimSpace(k)] = val
	return nil
}

func runAnnotate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "annotate", "--title TEXT [--slo NAME | --service NAME] [--server URL]", annotateAbout)
	var in struct {
		At      *time.Time        `json:"at,omitempty"`
		SLO     string            `json:"slo,omitempty"`
		Service string            `json:"service,omitempty"`
		Kind    string            `json:"kind"`
		Title   string            `json:"title"`
		Text    string            `json:"text,omitempty"`
		URL     string            `json:"url,omitempty"`
		Labels  map[string]string `json:"labels,omitempty"`
	}
	labels := labelFlags{}
	fs.StringVar(&in.SLO, "slo", "", "SLO `name` it applies to")
	fs.StringVar(&in.Service, "service", "", "service `name` whose SLOs it applies to")
	fs.StringVar(&in.Kind, "kind", "deploy", "`kind` of change: deploy, config, flag, note…")
	fs.StringVar(&in.Title, "title", "", "short `text` shown on charts")
	fs.StringVar(&in.Text, "text", "", "longer `text`")
	fs.StringVar(&in.URL, "url", "", "`URL` of the change (pipeline run, commit, ticket)")
	at := fs.String("at", "", "when, RFC 3339 (`time`; default now)")
	fs.Var(labels, "label", "`key=value` label (repeatable)")
	var c client
	clientFlags(fs, &c)
	if err := applyEnv(fs); err != nil {
		return usageError("annotate: %v", err)
	}
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	if strings.TrimSpace(in.Title) == "" {
		return usageError("annotate: --title is required (see nines annotate --help)")
	}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usageError("annotate: --at %q: want RFC 3339, e.g. 2026-11-25T10:02:00Z", *at)
		}
		in.At = &t
	}
	if len(labels) > 0 {
		in.Labels = labels
	}
	var out struct {
		ID int64 `json:"id"`
	}
	if err := c.do(ctx, "POST", "/api/v1/annotations", in, &out, nil); err != nil {
		return fmt.Errorf("annotate: %w", err)
	}
	fmt.Fprintf(e.stdout, "annotation %d recorded\n", out.ID)
	return nil
}
