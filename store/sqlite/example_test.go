package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/sqlite"
)

// Two sources report the same minute of one SLI; the store merges them.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "nines-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	minute := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	for _, latencies := range [][]float64{{0.003, 0.004, 0.250}, {0.002, 0.005}} {
		r := &slo.Rollup{Start: minute, Measured: true}
		for _, l := range latencies {
			r.Attempted++
			if l <= 0.1 {
				r.Good++
			} else {
				r.Slow++
			}
			_ = r.Latency.Insert(l)
		}
		app := db.Appender(ctx)
		if err := app.Append("checkout", time.Minute, r); err != nil {
			log.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			log.Fatal(err)
		}
	}

	s, err := store.LoadSeries(ctx, db, "checkout", time.Minute, minute, minute+int64(time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range s.Rollups {
		fmt.Printf("%s attempted %d good %d slow %d, %d latencies\n",
			time.Unix(0, r.Start).UTC().Format(time.TimeOnly), r.Attempted, r.Good, r.Slow, r.Latency.Count())
	}
	// Output:
	// 12:00:00 attempted 5 good 4 slow 1, 5 latencies
}
