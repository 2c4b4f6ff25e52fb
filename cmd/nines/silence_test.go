package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"net/http/httptest"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/store/sqlite"
)

// TestSilenceCommands runs nines silence add, list and expire against an
// in-process nines server with a token, and compares the whole session
// with testdata/silence-session.golden (go test -update rewrites it).
func TestSilenceCommands(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	d := notify.New(nil, notify.Options{State: db, Now: clock})
	eng, err := engine.New(ctx, engine.Config{Store: db, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{SLOs: eng, Writes: eng, Annotations: db, Size: db, Token: "s3cret", Notify: d})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600)
	t.Setenv("USER", "ana")

	var session bytes.Buffer
	ids := map[string]string{}
	idRE := regexp.MustCompile(`\b[0-9a-f]{16}\b`)
	run := func(args string, wantCode int) string {
		t.Helper()
		args = strings.ReplaceAll(args, "SERVER", hs.URL)
		args = strings.ReplaceAll(args, "TOKEN", tokenFile)
		for name, id := range ids {
			args = strings.ReplaceAll(args, name, id)
		}
		var stdout, stderr bytes.Buffer
		err := Run(ctx, splitArgs(t, args), strings.NewReader(""), &stdout, &stderr)
		if err != nil {
			stderr.WriteString("nines: " + err.Error() + "\n")
		}
		if got := exitOf(err); got != wantCode {
			t.Fatalf("nines %s: exit %d, want %d\n%s%s", args, got, wantCode, stdout.String(), stderr.String())
		}
		out := stdout.String() + stderr.String()
		// IDs are random: name them in order of appearance.
		out = idRE.ReplaceAllStringFunc(out, func(id string) string {
			for name, known := range ids {
				if known == id {
					return name
				}
			}
			name := "ID" + string(rune('1'+len(ids)))
			ids[name] = id
			return name
		})
		out = strings.ReplaceAll(out, hs.URL, "SERVER")
		shown := strings.ReplaceAll(strings.ReplaceAll(args, hs.URL, "SERVER"), tokenFile, "TOKEN")
		for name, id := range ids {
			shown = strings.ReplaceAll(shown, id, name)
		}
		fmt.Fprintf(&session, "$ nines %s   # exit %d\n%s\n", shown, wantCode, out)
		return out
	}
	run("silence list --server SERVER", 0)
	run("silence add --server SERVER --match slo=checkout-availability --for 2h --comment x", 2)
	run("silence add --server SERVER --token-file TOKEN --match slo=checkout-availability --for 2h --comment 'deploy 4.2'", 0)
	run("silence add --server SERVER --token-file TOKEN --match service=checkout --match 'severity=~\"ticket|page\"' --until 2026-11-26T08:00:00Z --comment freeze --author bob", 0)
	run("silence add --server SERVER --token-file TOKEN --match slo --for soon", 2)
	run("silence add --server SERVER --token-file TOKEN --match slo=x --until 2026-11-24T00:00:00Z --comment late", 2)
	run("silence list --server SERVER", 0)
	run("silence expire --server SERVER --token-file TOKEN ID1", 0)
	run("silence expire ID1 nope --server SERVER --token-file TOKEN", 2)
	run("silence list --server SERVER", 0)
	run("silence list --server SERVER --all", 0)
	run("silence frobnicate", 2)
	run("silence", 2)
	run("silence expire", 2)

	golden := filepath.Join("testdata", "silence-session.golden")
	if *update {
		if err := os.WriteFile(golden, session.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if session.String() != string(want) {
		t.Errorf("session differs from %s (go test -update rewrites it):\n%s", golden, session.String())
	}
}

// splitArgs splits a command line of the session as sh would.
func splitArgs(t testing.TB, s string) []string {
	t.Helper()
	toks, _, err := shellWords(s, nil)
	if err != nil {
		t.Fatalf("test command %q: %v", s, err)
	}
	var out []string
	for _, tk := range toks {
		out = append(out, tk.word)
	}
	return out
}

// TestServeNotifyFlag: a broken notify.yaml stops nines serve at start
// with every problem and its line.
func TestServeNotifyFlag(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "notify.yaml")
	os.WriteFile(cfg, []byte("receivers:\n  - name: pd\n    pagerduty: {routing_key: short}\nroute:\n  receiver: nobody\n"), 0o644)
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"serve", "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--notify", cfg}, strings.NewReader(""), &stdout, &stderr)
	if exitOf(err) != 2 {
		t.Fatalf("exit %d: %v", exitOf(err), err)
	}
	for _, want := range []string{"notify.yaml:3:30: receivers[0].pagerduty.routing_key: a PagerDuty integration key has 32 characters", `notify.yaml:5:13: route.receiver: no receiver is named "nobody"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestNotifyReload: a reload reads notify.yaml again before the specs; a
// broken file refuses the whole reload, a good one takes effect.
func TestNotifyReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "notify.yaml")
	write := func(text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("receivers: [{name: log, log: {}}]\nroute: {receiver: log}\n")
	nt, err := newNotifier(path, "127.0.0.1:9797", "", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs := 0
	reload := nt.withReload(func() ([]string, error) { specs++; return nil, nil })
	write("receivers: [{name: log, log: {}}]\nroute: {receiver: nobody}\n")
	if _, err := reload(); err == nil || !strings.Contains(err.Error(), `notify.yaml:2:19: route.receiver: no receiver is named "nobody"`) || specs != 0 {
		t.Fatalf("broken file: %v, specs reloaded %d times", err, specs)
	}
	write("receivers: [{name: log, log: {}}, {name: hook, webhook: {url: 'http://127.0.0.1:1'}}]\nroute: {receiver: hook}\n")
	if _, err := reload(); err != nil || specs != 1 || nt.Config().Route.Receiver != "hook" {
		t.Fatalf("good file: %v, specs %d, route %+v", err, specs, nt.Config().Route)
	}
	if none := (&notifier{path: ""}).withReload(nil); none != nil {
		t.Error("a reload without specs or notify.yaml")
	}
	// Without --slos a reload still reads notify.yaml again.
	write("receivers: [{name: log, log: {}}]\nroute: {receiver: log}\n")
	if _, err := nt.withReload(nil)(); err != nil || nt.Config().Route.Receiver != "log" {
		t.Errorf("notify.yaml alone: %v, route %+v", err, nt.Config().Route)
	}
}

// TestSilenceAuthorWithoutUser: where $USER is not set (cron, containers)
// a silence is still made, in the name of the login account or, without
// one, of the CLI on this host.
func TestSilenceAuthorWithoutUser(t *testing.T) {
	t.Setenv("USER", "ana")
	if got := defaultAuthor(); got != "ana" {
		t.Errorf("with USER=ana the author is %q", got)
	}
	t.Setenv("USER", "")
	got := defaultAuthor()
	host, _ := os.Hostname()
	if u, err := user.Current(); err == nil && u.Username != "" {
		if got != u.Username {
			t.Errorf("without USER the author is %q, want the login name %q", got, u.Username)
		}
	} else if got != "nines-cli@"+host {
		t.Errorf("without USER or a login name the author is %q, want nines-cli@%s", got, host)
	}
}
