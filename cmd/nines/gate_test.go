package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestGateExitCodes checks the pipeline contract against a stand-in for
// nines serve: 0 allow, 1 deny, 2 when the answer cannot be had.
func TestGateExitCodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/slos/open/gate":
			io.WriteString(w, `{"slo": "open", "allow": true, "reason": "allow: 80.0 % of the rolling 30d budget left"}`)
		case "/api/v1/slos/spent/gate":
			io.WriteString(w, `{"slo": "spent", "allow": false, "reason": "deny: -3.0 % of the rolling 30d budget left"}`)
		default:
			w.WriteHeader(404)
			io.WriteString(w, `{"error": {"status": 404, "message": "unknown SLO \"x\""}}`)
		}
	}))
	defer srv.Close()
	for _, c := range []struct {
		args string
		code int
		out  string
	}{
		{"gate --slo open --server " + srv.URL, 0, "open: allow: 80.0 %"},
		{"gate --slo spent --server " + srv.URL, 1, "spent: deny: -3.0 %"},
		{"gate --slo x --server " + srv.URL, 2, `unknown SLO "x"`},
		{"gate --slo open --server http://127.0.0.1:1", 2, "asking"},
		{"gate", 2, "--slo is required"},
	} {
		t.Run(c.args, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := Run(context.Background(), strings.Fields(c.args), strings.NewReader(""), &stdout, &stderr)
			if got := exitOf(err); got != c.code {
				t.Fatalf("exit %d, want %d (%v)", got, c.code, err)
			}
			all := stdout.String()
			if err != nil {
				all += err.Error()
			}
			if !strings.Contains(all, c.out) {
				t.Fatalf("output %q does not say %q", all, c.out)
			}
		})
	}
}
