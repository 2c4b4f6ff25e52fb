package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// client asks a running nines serve, for the commands that do.
type client struct {
	server, tokenFile string
	timeout           time.Duration
}

// get fetches path and decodes its JSON into out; an answer that is not
// 200 becomes an error with the server's message.
func (c *client) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, nil, out, nil)
}

// do sends in (when not nil) as JSON to path with method and decodes a
// JSON answer into out (when not nil). Any status other than 200 or 201
// becomes an error with the server's message. header adds request
// headers (If-Match, say).
func (c *client) do(ctx context.Context, method, path string, in, out any, header map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := strings.TrimRight(c.server, "/") + path
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding request to %s: %w", u, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return usageError("--server %q: %v", c.server, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if c.tokenFile != "" {
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return usageError("--token-file: %v", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(b)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("asking %s: %w", u, err)}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		var e struct {
			Error *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		msg := resp.Status
		if json.Unmarshal(answer, &e) == nil && e.Error != nil {
			msg = e.Error.Message
		}
		return &exitError{code: exitUsage, err: fmt.Errorf("%s %s: %s", method, u, msg)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("%s answered %q: %v", u, strings.TrimSpace(string(answer)), err)}
	}
	return nil
}

// clientFlags adds the flags of a command that asks nines serve.
func clientFlags(fs interface {
	StringVar(*string, string, string, string)
	DurationVar(*time.Duration, string, time.Duration, string)
}, c *client) {
	fs.StringVar(&c.server, "server", "http://127.0.0.1:9797", "nines serve base `URL`")
	fs.StringVar(&c.tokenFile, "token-file", "", "`file` with the bearer token, when the server requires one")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long to wait for the answer")
}
