// Command soak runs a nines serve under steady mixed load for a while and
// checks that it counted exactly what it acknowledged: clients sending
// events and Prometheus remote write, spec reloads and status reads at
// once. At the end it compares every acknowledged event and counter
// increase with the rollups the server stored, and reports the server's
// resident memory over the run (docs/performance.md, section soak).
//
//	scripts/soak.sh                     # 10 minutes, 50 clients
//	go run ./scripts/soak -nines /tmp/nines -duration 2m
//
// It is a measuring tool, not part of CI. It exits 1 when a count differs.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/ingest/promrw"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// config is what the flags set.
type config struct {
	nines, dir          string
	duration, settle    time.Duration
	clients             int
	batch               int
	eventEvery, rwEvery time.Duration
	reloadEvery         time.Duration
	readEvery           time.Duration
}

const specs = `name: soak-events
service: soak-events
description: %[1]s
sli:
  good:
    status: "<500"
    latency: "<=250ms"
objective: 99
window:
  rolling: 1h
---
name: soak-rw
service: soak-rw
description: %[1]s
sli:
  good:
    status: "<500"
  source:
    bad: 'soak_requests_total{job="soak", code=~"5.."}'
    total: 'soak_requests_total{job="soak"}'
objective: 99
method: transactions
window:
  rolling: 1h
`

func run() error {
	var c config
	flag.StringVar(&c.nines, "nines", "", "nines `binary` to run (required)")
	flag.StringVar(&c.dir, "dir", "", "work `directory` (default: a new temporary one)")
	flag.DurationVar(&c.duration, "duration", 10*time.Minute, "how long the load runs")
	flag.DurationVar(&c.settle, "settle", 2*time.Minute, "how long to wait after the load for the last quanta to be stored (remote write is held 30 s after its quantum)")
	flag.IntVar(&c.clients, "clients", 50, "clients, half sending events and half remote write")
	flag.IntVar(&c.batch, "batch", 200, "event lines per request")
	flag.DurationVar(&c.eventEvery, "event-every", 100*time.Millisecond, "pause between an events client's requests")
	flag.DurationVar(&c.rwEvery, "rw-every", time.Second, "pause between a remote-write client's requests (its scrape interval)")
	flag.DurationVar(&c.reloadEvery, "reload-every", 30*time.Second, "how often the specs are changed and reloaded")
	flag.DurationVar(&c.readEvery, "read-every", 250*time.Millisecond, "pause between a reader's status reads")
	flag.Parse()
	switch {
	case c.nines == "":
		return errors.New("-nines is required (scripts/soak.sh builds one)")
	case c.clients < 2 || c.batch < 1 || c.duration <= 0:
		return errors.New("want -clients of 2 or more, -batch of 1 or more and a positive -duration")
	}
	if c.dir == "" {
		d, err := os.MkdirTemp("", "nines-soak-")
		if err != nil {
			return err
		}
		c.dir = d
	}
	slos := filepath.Join(c.dir, "slos")
	if err := os.MkdirAll(slos, 0o755); err != nil {
		return err
	}
	specFile := filepath.Join(slos, "soak.yaml")
	if err := os.WriteFile(specFile, fmt.Appendf(nil, specs, "reload 0"), 0o644); err != nil {
		return err
	}

	srv, err := start(c, slos)
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Printf("soak: nines serve at %s (pid %d), data in %s; %d clients for %s\n", srv.url, srv.cmd.Process.Pid, c.dir, c.clients, c.duration)

	var rss rssLog
	rss.sample(srv.cmd.Process.Pid) // before any load
	ctx, cancel := context.WithTimeout(context.Background(), c.duration)
	defer cancel()
	begin := time.Now()
	var wg sync.WaitGroup
	var ev eventTotals
	rws := make([]*rwClient, c.clients-c.clients/2)
	for i := range c.clients / 2 {
		wg.Go(func() { eventClient(ctx, c, srv.url, i, &ev) })
	}
	for i := range rws {
		rws[i] = &rwClient{id: i}
		wg.Go(func() { rws[i].run(ctx, c, srv.url) })
	}
	var reloads, reloadFails atomic.Int64
	wg.Go(func() {
		for n := 1; sleep(ctx, c.reloadEvery); n++ {
			if err := os.WriteFile(specFile, fmt.Appendf(nil, specs, "reload "+strconv.Itoa(n)), 0o644); err != nil {
				reloadFails.Add(1)
				continue
			}
			if code, _, err := post(srv.url+"/api/v1/-/reload", "application/json", nil, nil); err != nil || code != http.StatusOK {
				reloadFails.Add(1)
				continue
			}
			reloads.Add(1)
		}
	})
	var reads readTotals
	for range 2 {
		wg.Go(func() { reader(ctx, c, srv.url, &reads) })
	}
	wg.Go(func() {
		for sleep(ctx, 10*time.Second) {
			rss.sample(srv.cmd.Process.Pid)
		}
	})
	wg.Wait()
	loadEnd := time.Now()
	rss.sample(srv.cmd.Process.Pid)
	fmt.Printf("soak: load done after %s; waiting %s for the last quanta\n", loadEnd.Sub(begin).Round(time.Second), c.settle)
	time.Sleep(c.settle)
	rss.sample(srv.cmd.Process.Pid)

	from := begin.Truncate(time.Minute)
	to := loadEnd.Truncate(time.Minute).Add(2 * time.Minute)
	storedEv, err := stored(srv.url, "soak-events", from, to)
	if err != nil {
		return err
	}
	storedRW, err := stored(srv.url, "soak-rw", from, to)
	if err != nil {
		return err
	}
	var rwTotal, rwErrors, rwReqs, rwFailed int64
	for _, r := range rws {
		rwTotal += r.ackedTotal()
		rwErrors += r.ackedErrors()
		rwReqs += r.requests
		rwFailed += r.failed
	}
	secs := loadEnd.Sub(begin).Seconds()
	fmt.Printf("\nevents        %d requests (%.0f/s), %d refused or failed; acknowledged %d events (%.0f/s), %d good\n",
		ev.requests.Load(), float64(ev.requests.Load())/secs, ev.failed.Load(), ev.events.Load(), float64(ev.events.Load())/secs, ev.good.Load())
	fmt.Printf("              stored %d events, %d good: %s\n", storedEv.attempted, storedEv.good, verdict(ev.events.Load(), storedEv.attempted, ev.good.Load(), storedEv.good))
	fmt.Printf("remote write  %d requests (%.0f/s), %d refused or failed; acknowledged counter increases of %d requests, %d failed\n",
		rwReqs, float64(rwReqs)/secs, rwFailed, rwTotal, rwErrors)
	fmt.Printf("              stored %d requests, %d good: %s\n", storedRW.attempted, storedRW.good, verdict(rwTotal, storedRW.attempted, rwTotal-rwErrors, storedRW.good))
	fmt.Printf("reloads       %d done, %d failed\n", reloads.Load(), reloadFails.Load())
	fmt.Printf("status reads  %d, %d failed; p50 %s, p99 %s, max %s\n", reads.n(), reads.failed.Load(), reads.quantile(0.5), reads.quantile(0.99), reads.quantile(1))
	fmt.Printf("server RSS    %s\n", rss.summary())
	if ev.events.Load() != storedEv.attempted || ev.good.Load() != storedEv.good || rwTotal != storedRW.attempted || rwTotal-rwErrors != storedRW.good {
		return errors.New("what was stored differs from what was acknowledged")
	}
	return nil
}

func verdict(acked, stored, ackedGood, storedGood int64) string {
	if acked == stored && ackedGood == storedGood {
		return "exact (0 lost, 0 duplicated)"
	}
	return fmt.Sprintf("DIFFERS: %+d events, %+d good", stored-acked, storedGood-ackedGood)
}

// server is the nines serve under test.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan error
}

func start(c config, slos string) (*server, error) {
	cmd := exec.Command(c.nines, "serve", "--listen", "127.0.0.1:0", "--data", filepath.Join(c.dir, "data"), "--slos", slos)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(c.dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`nines serve: (http://\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(log, sc.Text())
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		log.Close()
		s.done <- cmd.Wait()
	}()
	select {
	case s.url = <-found:
		return s, nil
	case err := <-s.done:
		return nil, fmt.Errorf("nines serve stopped at start: %v (see %s)", err, log.Name())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return nil, errors.New("nines serve did not listen within 30 s")
	}
}

func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
	}
}

// sleep waits d, or returns false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// post sends body and decodes a JSON answer into out (when not nil).
func post(url, contentType string, header map[string]string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// eventTotals are what the server acknowledged over the events API.
type eventTotals struct {
	requests, failed, events, good atomic.Int64
}

// eventClient posts batches of events stamped now: most good, some
// failing, some slow, a few lines counting several requests.
func eventClient(ctx context.Context, c config, base string, id int, t *eventTotals) {
	rng := rand.New(rand.NewPCG(uint64(id), 7))
	var body bytes.Buffer
	for sleep(ctx, c.eventEvery) {
		body.Reset()
		var events, good int64
		now := time.Now().UTC()
		for i := range c.batch {
			status, lat, count := 200, 1+rng.Float64()*100, int64(1)
			switch r := rng.IntN(1000); {
			case r < 5:
				status = 503
			case r < 10:
				lat = 300 + rng.Float64()*700
			case r < 60:
				count = int64(2 + rng.IntN(4))
			}
			fmt.Fprintf(&body, `{"time": %q, "status": %d, "latency_ms": %.3f, "count": %d}`+"\n",
				now.Add(time.Duration(i)*time.Microsecond).Format(time.RFC3339Nano), status, lat, count)
			events += count
			if status < 500 && lat <= 250 {
				good += count
			}
		}
		t.requests.Add(1)
		code, answer, err := post(base+"/api/v1/events?service=soak-events", "application/json", nil, body.Bytes())
		if err != nil || code != http.StatusOK {
			t.failed.Add(1)
			continue
		}
		var res struct {
			Events, Malformed int64
		}
		if json.Unmarshal(answer, &res) != nil || res.Events != events || res.Malformed != 0 {
			t.failed.Add(1)
			continue
		}
		t.events.Add(events)
		t.good.Add(good)
	}
}

// rwClient sends the cumulative counters of one scrape target: requests
// that succeeded and failed, as Prometheus' remote write does. What the
// server must count is each series' last acknowledged value minus its
// first (the first only sets the baseline).
type rwClient struct {
	id               int
	ok, errs         float64 // the counters' values now
	firstOK, lastOK  float64
	firstErr, lastEr float64
	acked            bool
	requests, failed int64
}

func (r *rwClient) run(ctx context.Context, c config, base string) {
	rng := rand.New(rand.NewPCG(uint64(r.id), 11))
	for sleep(ctx, c.rwEvery) {
		r.ok += float64(50 + rng.IntN(200))
		if rng.IntN(4) == 0 {
			r.errs += float64(1 + rng.IntN(3))
		}
		ms := time.Now().UnixMilli()
		series := func(code string, v float64) metrics.Series {
			return metrics.Series{Labels: metrics.Labels{{Name: "__name__", Value: "soak_requests_total"}, {Name: "client", Value: strconv.Itoa(r.id)},
				{Name: "code", Value: code}, {Name: "job", Value: "soak"}}, Samples: []metrics.Sample{{T: ms, V: v}}}
		}
		req := &promrw.WriteRequest{}
		req.Series = []metrics.Series{series("200", r.ok), series("500", r.errs)}
		r.requests++
		code, _, err := post(base+"/api/v1/write", "application/x-protobuf",
			map[string]string{"Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0"}, promrw.Encode(req))
		if err != nil || code/100 != 2 {
			r.failed++ // Prometheus would retry; the next sample carries the increase anyway
			continue
		}
		if !r.acked {
			r.firstOK, r.firstErr, r.acked = r.ok, r.errs, true
		}
		r.lastOK, r.lastEr = r.ok, r.errs
	}
}

func (r *rwClient) ackedErrors() int64 { return int64(r.lastEr - r.firstErr) }
func (r *rwClient) ackedTotal() int64 {
	return int64(r.lastOK-r.firstOK) + r.ackedErrors()
}

// readTotals times the status reads.
type readTotals struct {
	mu     sync.Mutex
	took   []time.Duration
	failed atomic.Int64
}

func (t *readTotals) n() int { t.mu.Lock(); defer t.mu.Unlock(); return len(t.took) }

func (t *readTotals) quantile(q float64) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.took) == 0 {
		return 0
	}
	s := slices.Clone(t.took)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))].Round(time.Millisecond / 10)
}

// reader reads what a dashboard and a Prometheus scraping nines read.
func reader(ctx context.Context, c config, base string, t *readTotals) {
	paths := []string{"/api/v1/slos", "/api/v1/slos/soak-events/status", "/api/v1/slos/soak-rw/status",
		"/api/v1/slos/soak-events/status?window=10m", "/metrics", "/"}
	for i := 0; sleep(ctx, c.readEvery); i++ {
		start := time.Now()
		resp, err := client.Get(base + paths[i%len(paths)])
		if err != nil {
			t.failed.Add(1)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.failed.Add(1)
			continue
		}
		t.mu.Lock()
		t.took = append(t.took, time.Since(start))
		t.mu.Unlock()
	}
}

// counts are the sums of a range of stored quanta.
type counts struct{ attempted, good int64 }

// stored sums the quanta the server stored for an SLO over [from, to).
func stored(base, slo string, from, to time.Time) (counts, error) {
	url := fmt.Sprintf("%s/api/v1/slos/%s/quanta?from=%s&to=%s", base, slo, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	resp, err := client.Get(url)
	if err != nil {
		return counts{}, err
	}
	defer resp.Body.Close()
	var doc struct {
		Quanta []struct {
			Attempted, Good int64
		}
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return counts{}, fmt.Errorf("%s: %s %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return counts{}, fmt.Errorf("%s: %w", url, err)
	}
	var c counts
	for _, q := range doc.Quanta {
		c.attempted += q.Attempted
		c.good += q.Good
	}
	return c, nil
}

// rssLog keeps the server's resident set size over the run.
type rssLog struct {
	mu sync.Mutex
	kb []int64
}

// sample reads VmRSS of pid (Linux); elsewhere it records nothing.
func (l *rssLog) sample(pid int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				l.mu.Lock()
				l.kb = append(l.kb, kb)
				l.mu.Unlock()
			}
		}
	}
}

func (l *rssLog) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.kb) < 3 {
		return "not measured (no /proc)"
	}
	mib := func(kb int64) string { return fmt.Sprintf("%.0f MiB", float64(kb)/1024) }
	// The first sample is before any load; growth is read from the first
	// minute under load (the sixth sample) to the end of the load, so the
	// heap's warm-up is not counted as growth.
	warm := l.kb[min(6, len(l.kb)-2)]
	end := l.kb[len(l.kb)-2]
	return fmt.Sprintf("%s idle, %s after a minute of load, %s at the end of the load (%+.1f %%), peak %s, %s after the settle",
		mib(l.kb[0]), mib(warm), mib(end), 100*float64(end-warm)/float64(warm), mib(slices.Max(l.kb)), mib(l.kb[len(l.kb)-1]))
}
