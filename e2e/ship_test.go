package e2e

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The shipping suite: a writer appends to an access log while it is
// rotated by rename and by copytruncate, the old files gzip-compressed
// at once or a rotation later, and nines ship and nines serve are each
// killed with SIGKILL at random moments and started again. At the end the
// server must hold every line written, exactly: none lost, none twice.

const shipE2ESpec = `name: ship
service: ship
sli:
  good:
    status: "<500"
    latency: "<=250ms"
objective: 99
method: transactions
window:
  rolling: 1h
`

// TestShipSurvivesKills runs the trials for events and for rollups at
// once: 12 and 8 trials.
func TestShipSurvivesKills(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct {
		name   string
		trials int
		flags  []string
	}{
		{"events", 12, nil},
		{"rollups", 8, []string{"--rollup"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			shipTrials(t, mode.trials, mode.flags...)
		})
	}
}

// lineTally is what the writer wrote, by the SLI's verdict.
type lineTally struct{ attempted, good, errors, slow uint64 }

// rotatingLog appends numbered JSON lines to dir/access.log and rotates
// it as logrotate would.
type rotatingLog struct {
	t   *testing.T
	dir string
	rng *rand.Rand

	mu      sync.Mutex
	f       *os.File
	seq     int
	want    lineTally
	rotated int
	// unzipped is a rotated file left for a later compression
	// (delaycompress).
	unzipped string
	renames  int
	copies   int
	zipped   int
}

func (l *rotatingLog) path() string { return filepath.Join(l.dir, "access.log") }

func (l *rotatingLog) open() {
	f, err := os.OpenFile(l.path(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		l.t.Error(err)
		return
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f = f
}

// write appends n lines: every 10th a 503, every 7th slow.
func (l *rotatingLog) write(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for range n {
		l.seq++
		status, ms := 200, 3
		if l.seq%10 == 0 {
			status = 503
		}
		if l.seq%7 == 0 {
			ms = 400
		}
		l.want.attempted++
		switch {
		case status >= 500:
			l.want.errors++
		case ms > 250:
			l.want.slow++
		default:
			l.want.good++
		}
		fmt.Fprintf(&b, `{"time":%q,"status":%d,"latency_ms":%d,"seq":%d}`+"\n", now, status, ms, l.seq)
	}
	if _, err := l.f.WriteString(b.String()); err != nil {
		l.t.Error(err)
	}
}

// rotate rotates the log one way or the other, at random.
func (l *rotatingLog) rotate() {
	l.rotated++
	old := filepath.Join(l.dir, fmt.Sprintf("access.log.%d", l.rotated))
	if l.rng.IntN(2) == 0 {
		// Rename; the server goes on writing to the renamed file until
		// it reopens its log.
		l.mu.Lock()
		err := os.Rename(l.path(), old)
		l.mu.Unlock()
		if err != nil {
			l.t.Error(err)
			return
		}
		l.renames++
		l.write(1 + l.rng.IntN(40))
		l.mu.Lock()
		l.open()
		l.mu.Unlock()
	} else {
		// copytruncate: nothing may be written between the copy and the
		// truncation, or it is lost (logrotate says as much).
		l.mu.Lock()
		err := copyInto(l.path(), old)
		if err == nil {
			err = os.Truncate(l.path(), 0)
		}
		l.mu.Unlock()
		if err != nil {
			l.t.Error(err)
			return
		}
		l.copies++
	}
	// compress now, or delaycompress: the previous rotated file.
	if l.unzipped != "" {
		l.gzip(l.unzipped)
		l.unzipped = ""
	}
	if l.rng.IntN(2) == 0 {
		l.gzip(old)
	} else {
		l.unzipped = old
	}
}

// copyInto copies src to dst as cp does: dst is created, then written.
func copyInto(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// gzip compresses path as gzip(1) does: path.gz is written, then path
// removed.
func (l *rotatingLog) gzip(path string) {
	in, err := os.Open(path)
	if err != nil {
		l.t.Error(err)
		return
	}
	defer in.Close()
	out, err := os.Create(path + ".gz")
	if err != nil {
		l.t.Error(err)
		return
	}
	zw := gzip.NewWriter(out)
	_, err = io.Copy(zw, in)
	if err == nil {
		err = zw.Close()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Remove(path)
	}
	if err != nil {
		l.t.Error(err)
	}
	l.zipped++
}

// run writes bursts of lines and rotates every 300–900 ms until stop.
func (l *rotatingLog) run(stop <-chan struct{}) {
	next := time.Now().Add(time.Duration(300+l.rng.IntN(600)) * time.Millisecond)
	for {
		select {
		case <-stop:
			return
		case <-time.After(5 * time.Millisecond):
		}
		l.write(1 + l.rng.IntN(20))
		if time.Now().After(next) {
			l.rotate()
			next = time.Now().Add(time.Duration(300+l.rng.IntN(600)) * time.Millisecond)
		}
	}
}

func (l *rotatingLog) written() lineTally {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.want
}

// shipTrials runs trials of kill -9 of nines ship, nines serve or both
// while lines are written and rotated, then checks the server's counts.
func shipTrials(t *testing.T, trials int, flags ...string) {
	rng := newRNG(t)
	data, slos, dir := t.TempDir(), writeSpecs(t, map[string]string{"ship.yaml": shipE2ESpec}), t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	from := time.Now().Add(-time.Minute).Truncate(time.Minute)

	log := &rotatingLog{t: t, dir: dir, rng: rand.New(rand.NewPCG(rng.Uint64(), 1))}
	log.open()
	defer func() { log.f.Close() }()
	log.write(100)

	serve := func() *nines { return startNines(t, data, slos, "--listen", addr) }
	ship := func() *proc {
		args := append([]string{"ship", "--server", "http://" + addr, "--slo", "ship", "--log-format", "jsonl",
			"--state", filepath.Join(dir, "ship.state"), "--read-from", "beginning", "--metrics-listen", metricsAddr,
			"--poll", "50ms", "--batch-wait", "200ms", "--batch-lines", "400", "--max-backoff", "500ms"},
			flags...)
		args = append(args, filepath.Join(dir, "access.log*"))
		return startProc(t, "nines ship", exec.Command(ninesBinary(t), args...))
	}
	n, s := serve(), ship()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { log.run(stop) })
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	kills := map[string]int{}
	for trial := 1; trial <= trials; trial++ {
		time.Sleep(time.Duration(200+rng.IntN(1000)) * time.Millisecond)
		if s.exited() {
			t.Fatalf("trial %d: nines ship exited by itself: %v", trial, s.err)
		}
		if n.exited() {
			t.Fatalf("trial %d: nines serve exited by itself: %v", trial, n.err)
		}
		switch rng.IntN(3) {
		case 0:
			kills["ship"]++
			s.kill()
			time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
			s = ship()
		case 1:
			kills["serve"]++
			n.kill()
			time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
			n = serve()
		default:
			kills["both"]++
			first, second := s.kill, n.kill
			if rng.IntN(2) == 0 {
				first, second = second, first
			}
			first()
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			second()
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			n, s = serve(), ship()
		}
	}
	close(stop)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	want := log.written()
	t.Logf("%d lines written; %d rotations (%d renames, %d copytruncates, %d files compressed); kills %v",
		want.attempted, log.rotated, log.renames, log.copies, log.zipped, kills)

	to := time.Now().Add(2 * time.Minute).Truncate(time.Minute)
	held := func() lineTally {
		var got lineTally
		for _, q := range n.quanta(t, "ship", from, to) {
			got.attempted += q.Attempted
			got.good += q.Good
			got.errors += q.Errors
			got.slow += q.Slow
		}
		return got
	}
	waitFor(t, 45*time.Second, "the server to hold every line written", func() (bool, string) {
		got := held()
		if got.attempted > want.attempted {
			t.Fatalf("the server holds %+v, more than the %+v written: lines were counted twice", got, want)
		}
		return got == want, fmt.Sprintf("holds %+v, want %+v", got, want)
	}, n.proc, s)
	// Nothing more may arrive: a line sent twice would show now.
	time.Sleep(time.Second)
	if got := held(); got != want {
		t.Fatalf("the server holds %+v, want %+v: lines were counted twice", got, want)
	}
	for _, m := range []string{"nines_ship_lines_lost_total", "nines_ship_lines_refused_total"} {
		if v := shipMetric(t, metricsAddr, m); v != "0" {
			t.Errorf("%s is %q, want 0", m, v)
		}
	}
	if v := shipMetric(t, metricsAddr, "nines_ship_lag_seconds"); v == "" {
		t.Error("nines ship's /metrics has no lag gauge")
	}
}

// shipMetric reads one unlabelled value from nines ship's /metrics.
func shipMetric(t *testing.T, addr, name string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("nines ship's /metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return v
		}
	}
	return ""
}
