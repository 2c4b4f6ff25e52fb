// Command scale measures nines serve holding many SLOs (docs/performance.md,
// "10,000 SLOs on one node"): it writes N specs of 30-day SLOs, fills a
// store with a day of per-minute rollups for each, starts the nines
// binary it is given on them, and reports the start time, the memory
// (VmRSS, VmHWM), the CPU the server spends a minute (one alert
// evaluation of every tier of every SLO, plus the ticks in between), the
// time of GET /api/v1/slos and of a reload that changes every objective.
// Not part of CI: run it through scripts/scale.sh.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store/sqlite"
)

func main() {
	bin := flag.String("nines", "", "the nines `binary` to measure")
	dir := flag.String("dir", "", "`directory` for specs, store and logs (reused: the store is filled once per -slos)")
	n := flag.Int("slos", 10000, "how many SLOs")
	minutes := flag.Int("minutes", 2, "whole minutes over which the server's CPU is measured")
	flag.Parse()
	if *bin == "" || *dir == "" || *n <= 0 || *minutes <= 0 {
		fmt.Fprintln(os.Stderr, "usage: scale -nines BINARY -dir DIR [-slos N] [-minutes M]")
		os.Exit(2)
	}
	if err := run(*bin, *dir, *n, *minutes); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func run(bin, dir string, n, minutes int) error {
	now := time.Now().UTC()
	specs := filepath.Join(dir, fmt.Sprintf("slos-%d", n))
	data := filepath.Join(dir, fmt.Sprintf("data-%d", n))
	if err := writeSpecs(specs, n, "99.9"); err != nil {
		return err
	}
	t0 := time.Now()
	if err := fill(data, n, now); err != nil {
		return err
	}
	fmt.Printf("store filled with a day of rollups for %d SLOs in %s\n", n, time.Since(t0).Round(time.Second))

	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", "--data", data, "--slos", specs, "--listen", addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	base := "http://" + addr
	if err := waitSLOs(base, n, 30*time.Minute); err != nil {
		return err
	}
	fmt.Printf("started with %d SLOs in %s\n", n, time.Since(start).Round(100*time.Millisecond))
	pid := cmd.Process.Pid

	// Wait for the next minute's alert evaluation to have run, then
	// measure whole minutes of CPU.
	time.Sleep(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute + 10*time.Second)))
	rss, hwm, err := memory(pid)
	if err != nil {
		return err
	}
	fmt.Printf("memory after start: VmRSS %s, VmHWM %s\n", mib(rss), mib(hwm))
	cpu0, err := cpuSeconds(pid)
	if err != nil {
		return err
	}
	time.Sleep(time.Duration(minutes) * time.Minute)
	cpu1, err := cpuSeconds(pid)
	if err != nil {
		return err
	}
	fmt.Printf("server CPU a minute (an alert cycle of every SLO, ticks every 5 s): %.2f s\n", (cpu1-cpu0)/float64(minutes))

	var lists []time.Duration
	var size int
	for range 7 {
		d, body, err := timedGet(base + "/api/v1/slos")
		if err != nil {
			return err
		}
		lists, size = append(lists, d), body
	}
	slices.Sort(lists)
	fmt.Printf("GET /api/v1/slos: median %s, max %s (%d KiB)\n", lists[len(lists)/2].Round(time.Millisecond), lists[len(lists)-1].Round(time.Millisecond), size>>10)

	if err := writeSpecs(specs, n, "99.5"); err != nil {
		return err
	}
	t1 := time.Now()
	resp, err := http.Post(base+"/api/v1/-/reload", "", nil)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reload: %s: %s", resp.Status, msg)
	}
	fmt.Printf("reload changing every objective: %s\n", time.Since(t1).Round(10*time.Millisecond))
	if err := writeSpecs(specs, n, "99.9"); err != nil {
		return err
	}
	rss, hwm, err = memory(pid)
	if err != nil {
		return err
	}
	fmt.Printf("memory at the end: VmRSS %s, VmHWM %s\n", mib(rss), mib(hwm))
	return nil
}

var methods = []string{"quanta", "time-quanta", "transactions", "downtime-minutes"}

// writeSpecs writes n specs of 30-day SLOs, the four methods in turn.
func writeSpecs(dir string, n int, objective string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := range n {
		text := fmt.Sprintf("name: slo-%05d\nservice: svc-%d\nsli:\n  good:\n    status: \"<500\"\nobjective: %s\nmethod: %s\nwindow:\n  rolling: 30d\n",
			i, i%100, objective, methods[i%4])
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("slo-%05d.yaml", i)), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// fill stores the day before now of every SLO's made-up traffic: 60–140
// requests a minute, a failure in one minute of ten, a minute nothing
// reported for in one of two hundred, and a 20-minute outage. A store
// filled before is kept.
func fill(dir string, n int, now time.Time) error {
	done := filepath.Join(dir, "filled")
	if _, err := os.Stat(done); err == nil {
		return nil
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dir, sqlite.Options{Sync: sqlite.SyncNormal})
	if err != nil {
		return err
	}
	end := now.Truncate(time.Minute)
	const perBatch = 20
	for first := 0; first < n; first += perBatch {
		app := db.Appender(ctx)
		for i := first; i < min(first+perBatch, n); i++ {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			outage := r.IntN(24*60 - 20)
			for m := range 24 * 60 {
				if r.IntN(200) == 0 {
					continue
				}
				ro := slo.Rollup{Start: end.Add(time.Duration(m-24*60) * time.Minute).UnixNano(), Measured: true, Attempted: 60 + uint64(r.IntN(81))}
				switch {
				case m >= outage && m < outage+20:
					ro.Errors = ro.Attempted / 2
				case r.IntN(10) == 0:
					ro.Errors = 1 + uint64(r.IntN(3))
				}
				ro.Good = ro.Attempted - ro.Errors
				if err := app.Append(fmt.Sprintf("slo-%05d", i), time.Minute, &ro); err != nil {
					app.Rollback()
					return errors.Join(err, db.Close())
				}
			}
		}
		if err := app.Commit(); err != nil {
			return errors.Join(err, db.Close())
		}
	}
	if err := db.Close(); err != nil {
		return err
	}
	return os.WriteFile(done, nil, 0o644)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitSLOs waits until the server lists n SLOs.
func waitSLOs(base string, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	want := fmt.Sprintf("slo-%05d", n-1)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/api/v1/slos")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), want) {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the server did not list %d SLOs within %s", n, limit)
}

func timedGet(url string) (time.Duration, int, error) {
	t0 := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		return 0, 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return d, len(body), err
}

// memory reads VmRSS and VmHWM of pid, in bytes.
func memory(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	return rss, hwm, sc.Err()
}

// cpuSeconds is the user and system CPU time pid has used (clock ticks of
// 1/100 s, as Linux reports them on amd64).
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("reading /proc/%d/stat: %w", pid, err)
	}
	return (utime + stime) / 100, nil
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
