package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
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
	server := fs.String("server", "http://127.0.0.1:9797", "nines serve base `URL`")
	tokenFile := fs.String("token-file", "", "`file` with the bearer token, when the server requires one for reads")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the answer")
	if err := applyEnv(fs); err != nil {
		return usageError("gate: %v", err)
	}
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	if *name == "" {
		return usageError("gate: --slo is required (see nines gate --help)")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	u := strings.TrimRight(*server, "/") + "/api/v1/slos/" + url.PathEscape(*name) + "/gate"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return usageError("gate: --server %q: %v", *server, err)
	}
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return usageError("gate: --token-file: %v", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(b)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("gate: asking %s: %w", u, err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var answer struct {
		Allow  bool   `json:"allow"`
		Reason string `json:"reason"`
		Error  *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("gate: %s answered %s: %q", u, resp.Status, strings.TrimSpace(string(body)))}
	}
	if resp.StatusCode != http.StatusOK {
		msg := resp.Status
		if answer.Error != nil {
			msg = answer.Error.Message
		}
		return &exitError{code: exitUsage, err: fmt.Errorf("gate: %s", msg)}
	}
	fmt.Fprintf(e.stdout, "%s: %s\n", *name, answer.Reason)
	if !answer.Allow {
		return &exitError{code: exitViolated, silent: true, err: fmt.Errorf("release denied")}
	}
	return nil
}
