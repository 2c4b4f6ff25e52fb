package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
)

const gateAbout = `Ask a running nines serve whether a release may go out, from the SLO's
error budget: deny while the budget is spent, or while less than 10 % is
left and it burns faster than 1× over the last hour. For pipelines:

  nines gate --slo checkout-availability --server http://nines:9797 && deploy

Exit code 0 allow, 1 deny, 2 when nines could not be asked (unreachable,
unknown SLO, bad token): a pipeline should treat that as deny too.`

func runGate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "gate", "--slo NAME [--server URL]", gateAbout)
	name := fs.String("slo", "", "SLO `name`")
	var c client
	clientFlags(fs, &c)
	if err := applyEnv(fs); err != nil {
		return usageError("gate: %v", err)
	}
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	if *name == "" {
		return usageError("gate: --slo is required (see nines gate --help)")
	}
	var answer struct {
		Allow  bool   `json:"allow"`
		Reason string `json:"reason"`
	}
	if err := c.get(ctx, "/api/v1/slos/"+url.PathEscape(*name)+"/gate", &answer); err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	fmt.Fprintf(e.stdout, "%s: %s\n", *name, answer.Reason)
	if !answer.Allow {
		return &exitError{code: exitViolated, silent: true, err: errors.New("release denied")}
	}
	return nil
}
