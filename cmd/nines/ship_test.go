package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShipRefusals: nines ship says what is wrong and exits 2 rather than
// start with settings that cannot work, and stops, keeping its lines,
// when the server refuses its token.
func TestShipRefusals(t *testing.T) {
	const spec = "name: checkout\nservice: checkout\nsli:\n  good:\n    status: \"<500\"\nobjective: 99\nmethod: transactions\nwindow:\n  rolling: 1h\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/slos/checkout":
			json.NewEncoder(w).Encode(map[string]string{"spec": spec})
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error": {"status": 401, "message": "a valid bearer token is required"}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error": {"status": 404, "message": "unknown SLO \"nope\""}}`)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	os.WriteFile(log, []byte(`{"time":"`+time.Now().UTC().Format(time.RFC3339)+`","status":200,"latency_ms":3}`+"\n"), 0o644)
	corrupt := filepath.Join(dir, "corrupt.state")
	os.WriteFile(corrupt, []byte("{not json"), 0o600)
	state := func(name string) string { return filepath.Join(dir, name) }
	base := "ship --server " + srv.URL + " --slo checkout --log-format jsonl --read-from beginning --batch-wait 10ms "
	for _, c := range []struct {
		name, args, out string
	}{
		{"Files are required.", "ship --slo checkout --log-format jsonl --state " + state("a"), "name the log files to follow"},
		{"The log format is required: nines ship does not guess.", "ship --slo checkout --state " + state("a") + " " + log, "--log-format is required"},
		{"The state file is required.", "ship --slo checkout --log-format jsonl " + log, "--state is required"},
		{"--read-from takes end or beginning.", "ship --slo checkout --log-format jsonl --read-from middle --state " + state("a") + " " + log, `--read-from "middle"`},
		{"An unknown format is refused.", "ship --slo checkout --log-format syslog --state " + state("a") + " " + log, "unknown format"},
		{"--slo or --service is required.", "ship --log-format jsonl --state " + state("a") + " " + log, "--slo NAME"},
		{"A corrupt state file is refused with its path and how to reset it.", base + "--state " + corrupt + " " + log, "mv " + corrupt},
		{"An SLO the server does not have stops it at start.", strings.Replace(base, "checkout", "nope", 1) + "--state " + state("b") + " " + log, `unknown SLO "nope"`},
		{"A refused token stops it, the batch kept for the restart.", base + "--state " + state("c") + " " + log, "--token-file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			err := Run(ctx, strings.Fields(c.args), strings.NewReader(""), &stdout, &stderr)
			if got := exitOf(err); got != 2 {
				t.Fatalf("exit %d, want 2 (%v)\n%s", got, err, stderr.String())
			}
			if msg := err.Error() + stderr.String(); !strings.Contains(msg, c.out) {
				t.Fatalf("the error does not say %q: %v\n%s", c.out, err, stderr.String())
			}
		})
	}
	b, err := os.ReadFile(state("c"))
	if err != nil || !strings.Contains(string(b), `"pending":[{`) {
		t.Errorf("after the 401 the state file should hold the batch as pending: %v %s", err, b)
	}
}
