package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/slo"
)

const silenceAbout = `Mute alert notifications for a while, in a running nines serve: during a
deploy, a planned outage or while an incident is handled. A silence has
matchers (all must hold), an end, who made it and why; notifications of
alerts it covers are not sent (resolves of alerts already sent still are).

  nines silence add --match slo=checkout-availability --for 2h --comment "deploy 4.2"
  nines silence add --match service=checkout --match 'severity=~"ticket"' --until 2026-12-24T18:00:00Z --comment freeze
  nines silence list
  nines silence expire ID

Matchers are Alertmanager's: label=value, label!=value, label=~regex,
label!~regex, over the labels slo, service, alert, severity, owner and the
SLO's own labels. Exit code 0 done, 2 when nines could not be asked or
refused.`

func runSilence(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet(e, "silence", "add|list|expire [flags]", silenceAbout)
		if help, err := parseFlagsWithArgs(fs, e, args); help || err != nil {
			return err
		}
		return usageError("silence: say add, list or expire (see nines silence --help)")
	}
	switch args[0] {
	case "add":
		return silenceAdd(ctx, e, args[1:])
	case "list", "ls":
		return silenceList(ctx, e, args[1:])
	case "expire", "rm":
		return silenceExpire(ctx, e, args[1:])
	}
	return usageError("silence: unknown subcommand %q: say add, list or expire", args[0])
}

// matchFlag collects repeated --match flags.
type matchFlag []string

func (m *matchFlag) String() string     { return strings.Join(*m, ",") }
func (m *matchFlag) Set(v string) error { *m = append(*m, v); return nil }

func silenceAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "silence add", "--match LABEL=VALUE… --for DURATION|--until TIME --comment TEXT", silenceAbout)
	var matches matchFlag
	fs.Var(&matches, "match", "`matcher` such as slo=checkout-availability (repeatable; all must hold)")
	dur := fs.String("for", "", "how long the silence lasts (`duration` such as 2h)")
	until := fs.String("until", "", "when the silence ends (RFC 3339 `time`)")
	comment := fs.String("comment", "", "why (required)")
	author := fs.String("author", "", "who silences (default $USER, else the login name, else nines-cli@HOST)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	var c client
	clientFlags(fs, &c)
	if err := applyEnv(fs); err != nil {
		return usageError("silence add: %v", err)
	}
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	var problems []string
	for _, m := range matches {
		if _, err := notify.ParseMatcher(m); err != nil {
			problems = append(problems, err.Error())
		}
	}
	switch {
	case len(matches) == 0:
		problems = append(problems, "--match is required: say what to mute, such as --match slo=checkout-availability")
	case *dur == "" && *until == "":
		problems = append(problems, "--for or --until is required: a silence must end")
	case *dur != "" && *until != "":
		problems = append(problems, "give --for or --until, not both")
	}
	if strings.TrimSpace(*comment) == "" {
		problems = append(problems, "--comment is required: say why, for whoever wonders where the pages went")
	}
	if strings.TrimSpace(*author) == "" {
		*author = defaultAuthor()
	}
	body := map[string]any{"matchers": []string(matches), "createdBy": *author, "comment": *comment}
	if *dur != "" {
		if d, err := slo.ParseDuration(*dur); err != nil || d <= 0 {
			problems = append(problems, fmt.Sprintf("--for %q: want a duration such as 2h", *dur))
		}
		body["duration"] = *dur
	}
	if *until != "" {
		t, err := time.Parse(time.RFC3339, *until)
		if err != nil {
			problems = append(problems, fmt.Sprintf("--until %q: want an RFC 3339 time such as 2026-12-24T18:00:00Z", *until))
		}
		body["endsAt"] = t
	}
	if len(problems) > 0 {
		return usageError("silence add: %s", strings.Join(problems, "; "))
	}
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodPost, "/api/v1/silences", body, &raw, nil); err != nil {
		return fmt.Errorf("silence add: %w", err)
	}
	if *asJSON {
		_, err := fmt.Fprintf(e.stdout, "%s\n", raw)
		return err
	}
	var s notify.SilenceView
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("silence add: %w", err)
	}
	_, err := fmt.Fprintf(e.stdout, "silence %s %s until %s: %s\n", s.ID, s.Status, s.EndsAt.UTC().Format("2006-01-02 15:04Z"), matcherList(s.Matchers))
	return err
}

func silenceList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "silence list", "[--server URL] [--json]", silenceAbout)
	asJSON := fs.Bool("json", false, "print the API's JSON")
	all := fs.Bool("all", false, "include expired silences (kept for a day)")
	var c client
	clientFlags(fs, &c)
	if err := applyEnv(fs); err != nil {
		return usageError("silence list: %v", err)
	}
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.get(ctx, "/api/v1/silences", &raw); err != nil {
		return fmt.Errorf("silence list: %w", err)
	}
	if *asJSON {
		_, err := fmt.Fprintf(e.stdout, "%s\n", raw)
		return err
	}
	var answer struct {
		Silences []notify.SilenceView `json:"silences"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return fmt.Errorf("silence list: %w", err)
	}
	n := 0
	for _, s := range answer.Silences {
		if s.Status == "expired" && !*all {
			continue
		}
		n++
		fmt.Fprintf(e.stdout, "%s  %-7s  %s → %s  %s\n    by %s: %s\n", s.ID, s.Status, s.StartsAt.UTC().Format("2006-01-02 15:04Z"),
			s.EndsAt.UTC().Format("2006-01-02 15:04Z"), matcherList(s.Matchers), s.CreatedBy, s.Comment)
	}
	if n == 0 {
		fmt.Fprintln(e.stdout, "no silences")
	}
	return nil
}

func silenceExpire(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "silence expire", "ID… [--server URL]", silenceAbout)
	var c client
	clientFlags(fs, &c)
	if err := applyEnv(fs); err != nil {
		return usageError("silence expire: %v", err)
	}
	// IDs may come before or after the flags.
	var ids []string
	for len(args) > 0 {
		if help, err := parseFlagsWithArgs(fs, e, args); help || err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		ids = append(ids, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(ids) == 0 {
		return usageError("silence expire: give the ID of the silence (nines silence list shows them)")
	}
	var errs []error
	for _, id := range ids {
		var s notify.SilenceView
		if err := c.do(ctx, http.MethodDelete, "/api/v1/silences/"+url.PathEscape(id), nil, &s, nil); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(e.stdout, "silence %s expired: %s\n", s.ID, matcherList(s.Matchers))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("silence expire: %w", err)
	}
	return nil
}

func matcherList(ms notify.Matchers) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		parts = append(parts, m.String())
	}
	return strings.Join(parts, ", ")
}

// notifier is nines serve's alert dispatcher with the file it was loaded
// from, so that a reload can read it again, and where its incidents
// receivers post.
type notifier struct {
	*notify.Dispatcher
	path             string
	incidentsURL     string
	incidentsHeaders map[string]string
}

// newNotifier loads --notify (without it, alerts go to the log and pages
// open incidents) for nines serve. Alerts link to the listen address
// unless the file names an external_url; incidents receivers post to the
// server's own /api/v1/alertmanager, with the token when one is set.
func newNotifier(path, listen, token string, st notify.State, claim notify.Claimer, logger *slog.Logger) (*notifier, error) {
	n := &notifier{path: path, incidentsURL: selfURL(listen) + "/api/v1/alertmanager"}
	if token != "" {
		n.incidentsHeaders = map[string]string{"Authorization": "Bearer " + token}
	}
	cfg := notify.DefaultConfig()
	if path != "" {
		var err error
		if cfg, err = notify.LoadConfig(path); err != nil {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("serve: --notify:\n%w", err)}
		}
	}
	cfg.ResolveIncidents(n.incidentsURL, n.incidentsHeaders)
	n.Dispatcher = notify.New(cfg, notify.Options{State: st, Claimer: claim, Logger: logger, ExternalURL: selfURL(listen)})
	return n, nil
}

// selfURL is how nines serve reaches itself from the listen address: a
// wildcard host (":9797", "0.0.0.0:9797") is reached on loopback.
func selfURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// withReload makes a spec reload re-read notify.yaml too: first, so that
// a broken file refuses the whole reload and changes nothing.
func (n *notifier) withReload(reload func() ([]string, error)) func() ([]string, error) {
	if n.path == "" {
		return reload
	}
	return func() ([]string, error) {
		cfg, err := notify.LoadConfig(n.path)
		if err != nil {
			return nil, fmt.Errorf("%w: --notify: %w", engine.ErrInvalid, err)
		}
		cfg.ResolveIncidents(n.incidentsURL, n.incidentsHeaders)
		var warnings []string
		if reload != nil { // without --slos only notify.yaml is read again
			if warnings, err = reload(); err != nil {
				return warnings, err
			}
		}
		n.SetConfig(cfg)
		return warnings, nil
	}
}

// defaultAuthor names who runs the command, as amtool does: a silence
// says who made it, and a cron job or a container without $USER still
// gets a name that says where it came from rather than a refusal.
func defaultAuthor() string {
	if u := strings.TrimSpace(os.Getenv("USER")); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && strings.TrimSpace(u.Username) != "" {
		return u.Username
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return "nines-cli@" + host
}
