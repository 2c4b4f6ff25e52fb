package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nines-sre/nines/internal/pgtest"
)

// tmpRoot holds what the whole package shares: the nines binary.
var tmpRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nines-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	tmpRoot = dir
	code := pgtest.Main(m) // stops the PostgreSQL of the replica tests

	os.RemoveAll(dir)
	os.Exit(code)
}

// inCI reports whether the tests run in CI, where a missing dependency is
// a failure rather than a reason to skip.
func inCI() bool { return os.Getenv("CI") == "true" }

var build struct {
	once sync.Once
	path string
	err  error
}

// ninesBinary builds cmd/nines once per test run and returns its path.
func ninesBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		path := filepath.Join(tmpRoot, "nines")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool(), "build", "-o", path, "github.com/nines-sre/nines/cmd/nines")
		out, err := cmd.CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build ./cmd/nines: %v\n%s", err, out)
			return
		}
		build.path = path
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// goTool is the go command of the toolchain running the tests.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// freePort returns a loopback port nobody listened on a moment ago, for
// programs that cannot be told to listen on port 0 and say which port
// they got.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// logBuffer collects a child process's output, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail returns the last n bytes of the log, from a line start.
func (b *logBuffer) tail(n int) string {
	s := b.String()
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "[…]\n" + s
}

// proc is a child process whose output is kept and shown when the test
// fails, and which is killed when the test ends.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *logBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, once done is closed
}

// startProc starts cmd with its stdout and stderr in a log. The process is
// killed (SIGKILL) when the test ends, and its log printed if the test
// failed.
func startProc(t testing.TB, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, log: &logBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- %s (%s) output ---\n%s", p.name, strings.Join(cmd.Args, " "), p.log.tail(16<<10))
		}
	})
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}

// stop sends SIGTERM and waits up to timeout for a clean exit.
func (p *proc) stop(t testing.TB, timeout time.Duration) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("%s exited with %v after SIGTERM", p.name, p.err)
		}
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %s of SIGTERM", p.name, timeout)
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitFor polls cond every 50 ms until it holds or timeout passes, then
// fails the test with what it waited for and cond's last word. A process
// in procs that exits meanwhile fails the test at once.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string), procs ...*proc) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return
		}
		last = detail
		for _, p := range procs {
			if p.exited() {
				t.Fatalf("waiting for %s: %s exited (%v); last: %s", what, p.name, p.err, last)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s; last: %s", timeout, what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// nines is a running nines serve.
type nines struct {
	*proc
	url  string // http://127.0.0.1:PORT
	data string
}

var listenRE = regexp.MustCompile(`nines serve: http://(\S+)`)

// startNines runs nines serve on a loopback port of its choosing with the
// store in data and the specs of slos, and waits until it answers.
func startNines(t testing.TB, data, slos string, extra ...string) *nines {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data", data, "--slos", slos, "--eval.interval", "1s", "--ingest.remote-write-hold", "3s"}, extra...)
	p := startProc(t, "nines serve", exec.Command(ninesBinary(t), args...))
	var addr string
	waitFor(t, 30*time.Second, "nines serve to print its address", func() (bool, string) {
		m := listenRE.FindStringSubmatch(p.log.String())
		if m == nil {
			return false, "no address line yet"
		}
		addr = m[1]
		return true, ""
	}, p)
	n := &nines{proc: p, url: "http://" + addr, data: data}
	waitFor(t, 10*time.Second, "nines /healthz", func() (bool, string) {
		resp, err := client.Get(n.url + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	}, p)
	return n
}

// writeSpecs writes spec files into a new directory and returns it.
func writeSpecs(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var client = &http.Client{Timeout: 15 * time.Second}

// getJSON GETs url and decodes its 200 answer into out.
func getJSON(t testing.TB, url string, out any) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

// events are the event counts of a status window.
type events struct {
	Total, Good, Failed, Errors, Slow uint64
}

// statusDoc is the part of GET /api/v1/slos/{name}/status the tests read.
type statusDoc struct {
	SLO     string `json:"slo"`
	Windows []struct {
		Start  time.Time `json:"start"`
		End    time.Time `json:"end"`
		Events events    `json:"events"`
	} `json:"windows"`
}

// status reads the events of an SLO's window; at, when not zero, asks for
// the window ending at that time, evaluated from the stored rollups, which
// includes quanta that have not settled yet.
func (n *nines) status(t testing.TB, slo string, at time.Time) events {
	t.Helper()
	url := n.url + "/api/v1/slos/" + slo + "/status"
	if !at.IsZero() {
		url += fmt.Sprintf("?at=%d", at.Unix())
	}
	var doc statusDoc
	getJSON(t, url, &doc)
	if len(doc.Windows) != 1 {
		t.Fatalf("GET %s: %d windows, want 1", url, len(doc.Windows))
	}
	return doc.Windows[0].Events
}

// quantum is one entry of GET /api/v1/slos/{name}/quanta.
type quantum struct {
	Start     time.Time `json:"start"`
	Measured  bool      `json:"measured"`
	Attempted uint64    `json:"attempted"`
	Good      uint64    `json:"good"`
	Errors    uint64    `json:"errors"`
	Slow      uint64    `json:"slow"`
}

// quanta lists the SLO's quanta in [from, to).
func (n *nines) quanta(t testing.TB, slo string, from, to time.Time) []quantum {
	t.Helper()
	var doc struct {
		Quanta []quantum `json:"quanta"`
	}
	getJSON(t, fmt.Sprintf("%s/api/v1/slos/%s/quanta?from=%d&to=%d", n.url, slo, from.Unix(), to.Unix()), &doc)
	return doc.Quanta
}

// metric returns the value of the /metrics line that starts with prefix
// (a name with its labels), or "" if there is none.
func (n *nines) metric(t testing.TB, prefix string) string {
	t.Helper()
	resp, err := client.Get(n.url + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), prefix+" "); ok {
			return rest
		}
	}
	return ""
}

// sleepUntil sleeps until the wall clock reaches t.
func sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}
