package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/internal/pgtest"
	"github.com/nines-sre/nines/store/postgres"
)

// Tests of this package may start one PostgreSQL server (internal/pgtest),
// stopped when they end.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestParseStore(t *testing.T) {
	tests := []struct {
		name, value string
		kind        storeKind
		where       string
		err         string
	}{
		{"An empty value is SQLite under --data.", "", storeSQLite, "./nines-data", ""},
		{"A plain directory is SQLite.", "/var/lib/nines", storeSQLite, "/var/lib/nines", ""},
		{"sqlite:DIR is SQLite in DIR.", "sqlite:/var/lib/nines", storeSQLite, "/var/lib/nines", ""},
		{"sqlite://DIR is SQLite in DIR too.", "sqlite:///var/lib/nines", storeSQLite, "/var/lib/nines", ""},
		{"A postgres URL is PostgreSQL.", "postgres://nines@db:5432/nines", storePostgres, "postgres://nines@db:5432/nines", ""},
		{"A postgresql URL is PostgreSQL.", "postgresql://nines@db/nines?sslmode=verify-full", storePostgres, "postgresql://nines@db/nines?sslmode=verify-full", ""},
		{"The scheme is case-insensitive.", "POSTGRES://db/nines", storePostgres, "POSTGRES://db/nines", ""},
		{"sqlite: without a directory is refused.", "sqlite:", 0, "", "no directory"},
		{"Another scheme is refused, its password hidden.", "mysql://root:hunter2@db/nines", 0, "", "not mysql"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, where, err := parseStore(tc.value, "./nines-data")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("parseStore(%q) = %v, want an error saying %q without the password", tc.value, err, tc.err)
				}
				return
			}
			if err != nil || kind != tc.kind || where != tc.where {
				t.Fatalf("parseStore(%q) = %v, %q, %v; want %v, %q", tc.value, kind, where, err, tc.kind, tc.where)
			}
		})
	}
}

// startServe runs nines serve in-process with args and returns its
// address and a function that stops it and returns what serve returned.
func startServe(t testing.TB, args ...string) (addr string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), strings.NewReader(""), io.Discard, &stderr)
	}()
	re := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(20 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve ended at start: %v\n%s", err, stderr.String())
		default:
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("serve did not start: %s", stderr.String())
	}
	return addr, func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			return errors.New("serve did not shut down")
		}
	}
}

// nines serve keeps its data in PostgreSQL when NINES_STORE (or --store)
// names it: events sent to one process are there for the next.
func TestServeOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	t.Setenv("NINES_STORE", url)
	addr, stop := startServe(t, "--slos", "testdata/rolling.yaml")
	now := time.Now().UTC().Add(-3 * time.Minute).Format(time.RFC3339) // settled, within the lag
	events := `{"time": "` + now + `", "ok": true, "latency_ms": 12}` + "\n" + `{"time": "` + now + `", "ok": false}` + "\n"
	resp, err := http.Post("http://"+addr+"/api/v1/events?slo=search-latency", "application/x-ndjson", strings.NewReader(events))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"events": 2`) {
		t.Fatalf("events: %d %s", resp.StatusCode, b)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}

	addr, stop = startServe(t, "--slos", "testdata/rolling.yaml")
	defer stop()
	resp, err = http.Get("http://" + addr + "/api/v1/slos/search-latency/status")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"failed": 1`) {
		t.Fatalf("status after a restart: %d %s", resp.StatusCode, b)
	}
}

// A PostgreSQL that cannot be reached stops nines serve at start with
// exit status 2 and the reason, not a server without its data.
func TestServeWithoutPostgresExits2(t *testing.T) {
	url := "postgres://nines:s3cret@/nines?host=" + t.TempDir() + "&connect_timeout=2"
	err := Run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--store", url}, strings.NewReader(""), io.Discard, io.Discard)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitUsage {
		t.Fatalf("serve = %v, want exit status %d", err, exitUsage)
	}
	if msg := err.Error(); !strings.Contains(msg, "unavailable") || !strings.Contains(msg, ".s.PGSQL") || strings.Contains(msg, "s3cret") {
		t.Errorf("error %q should give the reason (the socket it tried) without the password", msg)
	}
}

func TestMigrateCommand(t *testing.T) {
	url := pgtest.URL(t)
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := Run(context.Background(), append([]string{"migrate"}, args...), strings.NewReader(""), &out, io.Discard)
		return out.String(), err
	}
	out, err := run("status", "--store", url)
	if err != nil || !strings.Contains(out, "schema version 0") || !strings.Contains(out, fmt.Sprintf("%d migrations pending", postgres.Latest())) {
		t.Fatalf("status of an empty database: %v\n%s", err, out)
	}
	out, err = run("up", "--store", url)
	if err != nil || !strings.Contains(out, fmt.Sprintf("schema version 0 → %d", postgres.Latest())) {
		t.Fatalf("up: %v\n%s", err, out)
	}
	out, err = run("up", "--store", url)
	if err != nil || !strings.Contains(out, "nothing to do") {
		t.Fatalf("up again: %v\n%s", err, out)
	}
	t.Setenv("NINES_STORE", url)
	out, err = run("status")
	if err != nil || !strings.Contains(out, "no migrations pending") {
		t.Fatalf("status from NINES_STORE: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"status", "--store", filepath.Join(t.TempDir(), "data")}, {"down"}, {}} {
		if _, err := run(args...); err == nil {
			t.Errorf("migrate %q succeeded, want a usage error", args)
		}
	}
}

// PostgreSQL lost while nines serve runs: writes are refused with 503 and
// nothing is acknowledged that was not committed; once it is back, writes
// succeed again without a restart, and every acknowledged event counts.
func TestServeOnPostgresLost(t *testing.T) {
	url := pgtest.URL(t)
	name := pgtest.DatabaseName(url)
	addr, stop := startServe(t, "--store", url, "--slos", "testdata/rolling.yaml")
	defer stop()
	at := time.Now().UTC().Add(-3 * time.Minute).Format(time.RFC3339)
	post := func() int {
		t.Helper()
		body := `{"time": "` + at + `", "ok": false}` + "\n"
		resp, err := http.Post("http://"+addr+"/api/v1/events?slo=search-latency", "application/x-ndjson", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(); code != 200 {
		t.Fatalf("events before the loss: %d", code)
	}
	pgtest.Exec(t, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS false")
	pgtest.Exec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"+name+"'")
	if code := post(); code != 503 {
		t.Errorf("events while PostgreSQL is away: %d, want 503", code)
	}
	pgtest.Exec(t, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true")
	acked := 1
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if code := post(); code == 200 {
			acked++
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("events after PostgreSQL came back: %d", code)
		}
	}
	resp, err := http.Get("http://" + addr + "/api/v1/slos/search-latency/status")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf(`"failed": %d`, acked); !strings.Contains(string(b), want) {
		t.Errorf("status counts the acknowledged events only: want %s in %s", want, b)
	}
}
