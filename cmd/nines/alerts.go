package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

const alertsAbout = `Show what is firing now in a running nines serve, and why: each burn-rate
or no-data alert with its severity, since when, and the numbers that made
it fire. Exit code 0 whatever fires; 2 when nines could not be asked.

Examples:
  nines alerts
  nines alerts --server http://nines:9797 --json`

func runAlerts(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "alerts", "[--server URL] [--json]", alertsAbout)
	asJSON := fs.Bool("json", false, "print the API's JSON")
	var c client
	clientFlags(fs, &c)
	if err := applyEnv(fs); err != nil {
		return usageError("alerts: %v", err)
	}
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	var answer struct {
		Firing []struct {
			SLO      string    `json:"slo"`
			Alert    string    `json:"alert"`
			Severity string    `json:"severity"`
			Since    time.Time `json:"since"`
			Reason   string    `json:"reason"`
		} `json:"firing"`
	}
	var raw json.RawMessage
	if err := c.get(ctx, "/api/v1/alerts", &raw); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	if *asJSON {
		_, err := fmt.Fprintf(e.stdout, "%s\n", raw)
		return err
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	if len(answer.Firing) == 0 {
		_, err := fmt.Fprintln(e.stdout, "nothing is firing")
		return err
	}
	for _, a := range answer.Firing {
		fmt.Fprintf(e.stdout, "%-6s %s  %s  since %s\n       %s\n", a.Severity, a.SLO, a.Alert, a.Since.UTC().Format("2006-01-02 15:04Z"), a.Reason)
	}
	return nil
}
