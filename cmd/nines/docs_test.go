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
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/demo"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store/sqlite"
)

// The docs test runs every command of the shell blocks (```sh, ```shell,
// ```bash) of README.md and docs/*.md against a nines serve it starts,
// so that an example that no longer works cannot land.
//
// The commands run in a directory laid out like the checkout and the
// examples assume: examples/, slos/ (the SLO of checkout-availability,
// read from counters), checkout.yaml (the same), notify.yaml,
// incidents.yaml, access.log. The server behind them serves slos/ with
// a day of the demo's made-up traffic. What runs:
//
//   - nines … and go run ./cmd/nines …, in-process. It must exit 0;
//     eval and gate may exit 1 (a violated objective, a denied release:
//     answers, not failures). "echo $?   # N" after a command asserts
//     its exit code. nines serve … starts on a free port and its own
//     data directory, and stops once it listens.
//   - curl …, over HTTP with the options the docs use; the answer must
//     be a 2xx.
//   - anything else (go test, open, promtool, a deploy script) is not
//     run, and counted.
//
// $VERSION and $CI_PIPELINE_URL stand for what a CI job has. An incident
// number the docs use (42) stands for the incident the block opened. A
// block that cannot run here says why in its info string:
// ```sh skip-test: needs a PagerDuty account.
func TestDocsCommands(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	var blocks []docBlock
	for _, f := range files {
		bs, err := docBlocks(f)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, bs...)
	}
	if len(blocks) < 10 {
		t.Fatalf("found %d shell blocks in %d files; the docs test is not reading the docs", len(blocks), len(files))
	}

	work := docsWorkdir(t, root)
	t.Chdir(work)
	t.Setenv("USER", "") // as in the container where a silence once needed --author
	server := startDocsServer(t)
	t.Setenv("NINES_SERVER", server)
	vars := map[string]string{"VERSION": "1.2.3", "CI_PIPELINE_URL": "https://ci.example/run/7"}

	var ran, curls, others int
	var skipped []string
	for _, b := range blocks {
		name := fmt.Sprintf("%s:%d", strings.TrimPrefix(b.file, root+string(filepath.Separator)), b.line)
		if b.skip != "" {
			skipped = append(skipped, name+" ("+b.skip+")")
			continue
		}
		cmds, err := parseCommands(b, vars)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		t.Run(name, func(t *testing.T) {
			ids := map[string]string{} // incident numbers of the docs → those opened here
			last := ""                 // the incident the block opened last
			for _, c := range cmds {
				switch c.kind {
				case cmdOther:
					others++
				case cmdCurl:
					curls++
					runDocsCurl(t, c, server)
				case cmdNines:
					ran++
					out := runDocsNines(t, c, ids, last)
					if m := regexp.MustCompile(`^opened incident (\d+) `).FindStringSubmatch(out); m != nil {
						last = m[1]
					}
				}
			}
		})
	}
	t.Logf("docs: %d nines commands and %d curl commands run; %d other commands not run; %d blocks skipped: %s",
		ran, curls, others, len(skipped), strings.Join(skipped, "; "))
	if ran < 30 {
		t.Errorf("only %d nines commands ran; the docs have more", ran)
	}
}

// docBlock is a fenced shell block of a Markdown file.
type docBlock struct {
	file  string
	line  int // of the opening fence
	skip  string
	lines []string
}

// docBlocks returns the shell blocks of the Markdown file path. A block
// without an info string whose first line is a nines command is an
// error: it would not be tested.
func docBlocks(path string) ([]docBlock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []docBlock
	var cur *docBlock
	shell := false
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if !strings.HasPrefix(trimmed, "```") {
			if cur != nil {
				cur.lines = append(cur.lines, line)
			}
			continue
		}
		if cur != nil { // the closing fence
			if shell {
				out = append(out, *cur)
			} else if len(cur.lines) > 0 && strings.HasPrefix(cur.lines[0], "nines ") {
				return nil, fmt.Errorf("%s:%d: a block of nines commands without an info string; write ```sh (or ```sh skip-test: why) so that the docs test runs it", path, cur.line)
			}
			cur = nil
			continue
		}
		info := strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))
		lang, rest, _ := strings.Cut(info, " ")
		shell = lang == "sh" || lang == "shell" || lang == "bash"
		cur = &docBlock{file: path, line: i + 1}
		if _, reason, ok := strings.Cut(rest, "skip-test:"); ok {
			if cur.skip = strings.TrimSpace(reason); cur.skip == "" {
				return nil, fmt.Errorf("%s:%d: skip-test: without a reason", path, i+1)
			}
		} else if strings.TrimSpace(rest) != "" {
			return nil, fmt.Errorf("%s:%d: info string %q: want the language alone, or skip-test: and a reason", path, i+1, info)
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: the block is never closed", path, cur.line)
	}
	return out, nil
}

type cmdKind int

const (
	cmdOther cmdKind = iota
	cmdNines
	cmdCurl
)

// docCommand is one command of a block, its words expanded.
type docCommand struct {
	line     int
	text     string
	kind     cmdKind
	args     []string // after "nines" or "curl"
	stdin    string   // a here-document
	stdout   string   // a file that > names
	wantCode int      // -1: any success
}

// parseCommands splits a block into commands: lines joined at a trailing
// backslash, here-documents read, "&&" splitting a line, "> file"
// redirecting its output, "# …" a comment, and "echo $?   # N" setting
// the exit code the command before it must have.
func parseCommands(b docBlock, vars map[string]string) ([]docCommand, error) {
	var out []docCommand
	for i := 0; i < len(b.lines); i++ {
		line, first := b.lines[i], i
		for strings.HasSuffix(line, `\`) && i+1 < len(b.lines) {
			i++
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSpace(b.lines[i])
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		toks, comment, err := shellWords(line, vars)
		for errors.Is(err, errUnterminated) && i+1 < len(b.lines) { // a quote spans lines
			i++
			line += "\n" + b.lines[i]
			toks, comment, err = shellWords(line, vars)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", b.line+1+first, err)
		}
		if len(toks) >= 2 && toks[0].word == "echo" && toks[1].word == "$?" {
			code, err := strconv.Atoi(strings.TrimSpace(comment))
			if err != nil || len(out) == 0 {
				return nil, fmt.Errorf("line %d: echo $? wants the exit code of the command before it as its comment (echo $?   # 1)", b.line+1+first)
			}
			out[len(out)-1].wantCode = code
			continue
		}
		cmd := docCommand{line: b.line + 1 + first, text: strings.TrimSpace(line), wantCode: -1}
		flush := func() {
			if len(cmd.args) > 0 {
				out = append(out, classify(cmd))
			}
			cmd = docCommand{line: cmd.line, text: cmd.text, wantCode: -1}
		}
		for j := 0; j < len(toks); j++ {
			switch tk := toks[j]; {
			case tk.op == "&&":
				flush()
			case tk.op == ">":
				if j+1 >= len(toks) || toks[j+1].op != "" {
					return nil, fmt.Errorf("line %d: > without a file", cmd.line)
				}
				j++
				cmd.stdout = toks[j].word
			case tk.op == "<<":
				if j+1 >= len(toks) || toks[j+1].op != "" {
					return nil, fmt.Errorf("line %d: << without a delimiter", cmd.line)
				}
				j++
				var doc strings.Builder
				for i++; i < len(b.lines) && b.lines[i] != toks[j].word; i++ {
					doc.WriteString(b.lines[i] + "\n")
				}
				if i == len(b.lines) {
					return nil, fmt.Errorf("line %d: the here-document never ends with %s", cmd.line, toks[j].word)
				}
				cmd.stdin = doc.String()
			case tk.op != "":
				return nil, fmt.Errorf("line %d: the docs test does not run %q", cmd.line, tk.op)
			default:
				cmd.args = append(cmd.args, tk.word)
			}
		}
		flush()
	}
	return out, nil
}

// classify tells a nines or curl command from the rest and drops the
// program's name from its args.
func classify(c docCommand) docCommand {
	switch {
	case c.args[0] == "nines":
		c.kind, c.args = cmdNines, c.args[1:]
	case len(c.args) >= 3 && c.args[0] == "go" && c.args[1] == "run" && c.args[2] == "./cmd/nines":
		c.kind, c.args = cmdNines, c.args[3:]
	case c.args[0] == "curl":
		c.kind, c.args = cmdCurl, c.args[1:]
	}
	return c
}

// errUnterminated is a quote the line does not close.
var errUnterminated = errors.New("unterminated")

// token is a shell word or an operator (&&, >, <<, |, ;, ||).
type token struct{ word, op string }

// shellWords splits a command line as sh would for the docs' commands:
// single quotes keep everything, double quotes expand $NAME and ${NAME}
// and take \" and \\, a backslash outside quotes keeps the next
// character, and # at the start of a word begins a comment, which is
// returned apart. $? is kept as written; any other unset variable is an
// error.
func shellWords(line string, vars map[string]string) ([]token, string, error) {
	var toks []token
	var cur strings.Builder
	inWord := false
	end := func() {
		if inWord {
			toks = append(toks, token{word: cur.String()})
			cur.Reset()
			inWord = false
		}
	}
	expand := func(s string, i int) (int, error) { // s[i] == '$'
		if i+1 < len(s) && s[i+1] == '?' {
			cur.WriteString("$?")
			return i + 2, nil
		}
		j, name := i+1, ""
		if j < len(s) && s[j] == '{' {
			k := strings.IndexByte(s[j:], '}')
			if k < 0 {
				return 0, errors.New("${ without }")
			}
			name, j = s[j+1:j+k], j+k+1
		} else {
			for j < len(s) && (s[j] == '_' || 'A' <= s[j] && s[j] <= 'Z' || 'a' <= s[j] && s[j] <= 'z' || '0' <= s[j] && s[j] <= '9') {
				j++
			}
			name = s[i+1 : j]
		}
		v, ok := vars[name]
		if !ok {
			return 0, fmt.Errorf("$%s is not set in the docs test", name)
		}
		cur.WriteString(v)
		return j, nil
	}
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			end()
			i++
		case c == '#' && !inWord:
			end()
			return toks, strings.TrimSpace(line[i+1:]), nil
		case c == '\'':
			k := strings.IndexByte(line[i+1:], '\'')
			if k < 0 {
				return nil, "", fmt.Errorf("%w '", errUnterminated)
			}
			cur.WriteString(line[i+1 : i+1+k])
			inWord, i = true, i+k+2
		case c == '"':
			inWord = true
			for i++; ; {
				if i >= len(line) {
					return nil, "", fmt.Errorf(`%w "`, errUnterminated)
				}
				switch d := line[i]; {
				case d == '"':
					i++
				case d == '\\' && i+1 < len(line) && strings.IndexByte(`"\$`, line[i+1]) >= 0:
					cur.WriteByte(line[i+1])
					i += 2
					continue
				case d == '$':
					var err error
					if i, err = expand(line, i); err != nil {
						return nil, "", err
					}
					continue
				default:
					cur.WriteByte(d)
					i++
					continue
				}
				break
			}
		case c == '\\' && i+1 < len(line):
			cur.WriteByte(line[i+1])
			inWord, i = true, i+2
		case c == '$':
			var err error
			if i, err = expand(line, i); err != nil {
				return nil, "", err
			}
			inWord = true
		case strings.IndexByte("&|;<>", c) >= 0:
			end()
			op := string(c)
			if i+1 < len(line) && (line[i+1] == c) {
				op += string(c)
			}
			toks = append(toks, token{op: op})
			i += len(op)
			if op == "<<" && i < len(line) && line[i] == '-' {
				return nil, "", errors.New("<<- is not supported")
			}
		default:
			cur.WriteByte(c)
			inWord, i = true, i+1
		}
	}
	end()
	return toks, "", nil
}

// runDocsNines runs a nines command in-process and returns its output.
// ids maps the incident numbers the docs use to those opened here.
func runDocsNines(t *testing.T, c docCommand, ids map[string]string, last string) string {
	t.Helper()
	args := slices.Clone(c.args)
	if len(args) >= 3 && args[0] == "incident" {
		for i := 2; i < len(args); i++ {
			if _, err := strconv.Atoi(args[i]); err != nil || strings.HasPrefix(args[i-1], "-") {
				continue
			}
			if _, ok := ids[args[i]]; !ok && last != "" {
				ids[args[i]] = last
			}
			if id, ok := ids[args[i]]; ok {
				args[i] = id
			}
			break
		}
	}
	if len(args) > 0 && args[0] == "serve" {
		runDocsServe(t, c, args)
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := Run(ctx, args, strings.NewReader(c.stdin), &stdout, &stderr)
	code := exitOf(err)
	ok := code == 0 || code == exitViolated && (args[0] == "eval" || args[0] == "gate")
	if c.wantCode >= 0 {
		ok = code == c.wantCode
	}
	if !ok {
		t.Errorf("line %d: %s\nexit %d (want %s): %v\n%s%s", c.line, c.text, code, wantText(c.wantCode), err, stdout.String(), stderr.String())
	}
	if c.stdout != "" {
		if err := os.WriteFile(c.stdout, stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return stdout.String()
}

func wantText(code int) string {
	if code < 0 {
		return "0"
	}
	return strconv.Itoa(code)
}

// runDocsServe starts a nines serve of the docs on a free port and its
// own data directory, waits until it listens and stops it.
func runDocsServe(t *testing.T, c docCommand, args []string) {
	t.Helper()
	args = append(args, "--listen", "127.0.0.1:0", "--data", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- Run(ctx, args, strings.NewReader(""), io.Discard, &stderr) }()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(stderr.String(), "nines serve: http://") {
		select {
		case err := <-done:
			t.Errorf("line %d: %s\nstopped before it listened: %v\n%s", c.line, c.text, err, stderr.String())
			return
		case <-deadline:
			t.Errorf("line %d: %s\nnot listening after 20 s:\n%s", c.line, c.text, stderr.String())
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("line %d: %s\nstopped with %v\n%s", c.line, c.text, err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("line %d: %s\ndid not stop within 20 s of its cancel", c.line, c.text)
	}
}

// runDocsCurl sends the request a curl command of the docs describes,
// with curl's defaults for the options the docs use, to server.
func runDocsCurl(t *testing.T, c docCommand, server string) {
	t.Helper()
	method, target := "", ""
	var body io.Reader
	header := http.Header{}
	for i := 0; i < len(c.args); i++ {
		a := c.args[i]
		next := func() string {
			if i+1 >= len(c.args) {
				t.Fatalf("line %d: %s: %s needs a value", c.line, c.text, a)
			}
			i++
			return c.args[i]
		}
		switch {
		case a == "-s" || a == "--silent" || a == "-sS":
		case a == "-X" || a == "--request":
			method = next()
		case strings.HasPrefix(a, "-X"):
			method = a[2:]
		case a == "-H" || a == "--header":
			k, v, _ := strings.Cut(next(), ":")
			header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		case a == "-d" || a == "--data" || a == "--data-binary":
			v := next()
			switch {
			case v == "@-":
				v = c.stdin
			case strings.HasPrefix(v, "@"):
				b, err := os.ReadFile(v[1:])
				if err != nil {
					t.Fatalf("line %d: %s: %v", c.line, c.text, err)
				}
				v = string(b)
				if a != "--data-binary" { // curl -d drops the file's newlines
					v = strings.NewReplacer("\r", "", "\n", "").Replace(v)
				}
			}
			body = strings.NewReader(v)
			if header.Get("Content-Type") == "" {
				header.Set("Content-Type", "application/x-www-form-urlencoded") // as curl sends it
			}
		case strings.HasPrefix(a, "-"):
			t.Fatalf("line %d: %s: the docs test does not know curl's %s", c.line, c.text, a)
		default:
			target = a
		}
	}
	if method == "" {
		method = http.MethodGet
		if body != nil {
			method = http.MethodPost
		}
	}
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	target = regexp.MustCompile(`^http://(localhost|127\.0\.0\.1):9797`).ReplaceAllString(target, server)
	if !strings.HasPrefix(target, server) {
		t.Errorf("line %d: %s: %s is not nines serve on its default address", c.line, c.text, target)
		return
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatalf("line %d: %s: %v", c.line, c.text, err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("line %d: %s: %v", c.line, c.text, err)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Errorf("line %d: %s\n%s: %s", c.line, c.text, resp.Status, answer)
	}
}

// docsWorkdir lays out the directory the docs' commands run in.
func docsWorkdir(t *testing.T, root string) string {
	t.Helper()
	work := t.TempDir()
	copyFile := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	examples, err := filepath.Glob(filepath.Join(root, "examples", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range examples {
		copyFile(f, filepath.Join(work, "examples", filepath.Base(f)))
	}
	for from, to := range map[string]string{
		"testdata/docs/checkout.yaml":                  "slos/checkout.yaml",
		"testdata/docs/checkout.yaml#":                 "checkout.yaml",
		"testdata/docs/notify.yaml":                    "notify.yaml",
		"testdata/docs/batch-000417.jsonl":             "batch-000417.jsonl",
		filepath.Join(root, "examples/incidents.yaml"): "incidents.yaml",
		filepath.Join(root, "examples/access.log"):     "access.log",
	} {
		copyFile(strings.TrimSuffix(from, "#"), filepath.Join(work, to))
	}
	return work
}

// startDocsServer fills a store with a day of the demo's traffic for the
// SLOs of slos/, starts nines serve on it as the README says to, and
// returns its URL. It stops when the test ends.
func startDocsServer(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, "nines-data", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(ctx, engine.Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	files, err := specFiles("slos", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Load(ctx, files); err != nil {
		t.Fatal(err)
	}
	end := time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)
	for _, s := range eng.SLOs() {
		series := &slo.Series{Quantum: s.Quantum}
		for q := end.Add(-24 * time.Hour); q.Before(end); q = q.Add(s.Quantum) {
			r, ok := demo.Rollup(s, q, 1)
			if !ok {
				t.Fatalf("SLO %s of testdata/docs has no demo traffic", s.Name)
			}
			series.Rollups = append(series.Rollups, r)
		}
		if _, err := eng.Backfill(ctx, s.Name, series, "demo"); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(ctx)
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--slos", "./slos/", "--notify", "./notify.yaml", "--incidents", "./incidents.yaml",
			"--listen", "127.0.0.1:0", "--data", "./nines-data"}, strings.NewReader(""), io.Discard, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the docs' nines serve: %v\n%s", err, stderr.String())
		}
	})
	re := regexp.MustCompile(`nines serve: (http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("the docs' nines serve is not listening after 20 s:\n%s", stderr.String())
	return ""
}

// TestShellWords holds the splitting the docs test relies on.
func TestShellWords(t *testing.T) {
	vars := map[string]string{"VERSION": "1.2.3"}
	f := func(line, want, wantComment string) {
		t.Helper()
		toks, comment, err := shellWords(line, vars)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		var got []string
		for _, tk := range toks {
			if tk.op != "" {
				got = append(got, "<"+tk.op+">")
			} else {
				got = append(got, "["+tk.word+"]")
			}
		}
		if s := strings.Join(got, " "); s != want || comment != wantComment {
			t.Errorf("%s\n got %s # %s\nwant %s # %s", line, s, comment, want, wantComment)
		}
	}
	f(`nines annotate --title "checkout $VERSION" --label version=$VERSION`, `[nines] [annotate] [--title] [checkout 1.2.3] [--label] [version=1.2.3]`, "")
	f(`nines silence add --match 'severity=~"ticket"' --comment "a \"b\""  # why`, `[nines] [silence] [add] [--match] [severity=~"ticket"] [--comment] [a "b"]`, "why")
	f(`nines gate --slo x && deploy`, `[nines] [gate] [--slo] [x] <&&> [deploy]`, "")
	f(`nines incident postmortem 42 > pm-42.md        # template`, `[nines] [incident] [postmortem] [42] <>> [pm-42.md]`, "template")
	f(`curl -s -X POST 'localhost:9797/api/v1/events?service=checkout' --data-binary @- <<'EOF_'`, `[curl] [-s] [-X] [POST] [localhost:9797/api/v1/events?service=checkout] [--data-binary] [@-] <<<> [EOF_]`, "")
	f(`echo $?   # 1`, `[echo] [$?]`, "1")
	f(`shed\ 20%`, `[shed 20%]`, "")
	if _, _, err := shellWords(`nines annotate --title "$UNSET"`, vars); err == nil {
		t.Error("an unset variable is not an error")
	}
}

// TestDocBlocks reads the info strings: a skip needs a reason, and a
// block of nines commands must say it is shell.
func TestDocBlocks(t *testing.T) {
	f := func(md string, wantErr string, wantBlocks int) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "x.md")
		os.WriteFile(path, []byte(md), 0o644)
		bs, err := docBlocks(path)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%q: %v, want an error with %q", md, err, wantErr)
			}
			return
		}
		if err != nil || len(bs) != wantBlocks {
			t.Errorf("%q: %d blocks, %v; want %d", md, len(bs), err, wantBlocks)
		}
	}
	f("```sh\nnines lint x\n```\n\n```json\n{}\n```\n", "", 1)
	f("```sh skip-test: needs PagerDuty\nnines x\n```\n", "", 1)
	f("```sh skip-test:\nnines x\n```\n", "skip-test: without a reason", 0)
	f("```sh please\nnines x\n```\n", "want the language alone", 0)
	f("```\nnines serve --slos x\n```\n", "without an info string", 0)
	f("```sh\nnines x\n", "never closed", 0)
}
