package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store/sqlite"
)

const apiSpec = `name: api
service: api
sli:
  good:
    status: "<500"
objective: 99
method: quanta
window:
  rolling: 1h
noData: good
`

func minute(t time.Time, attempted, good uint64) *slo.Series {
	return &slo.Series{Quantum: time.Minute, Rollups: []slo.Rollup{{Start: t.UnixNano(), Attempted: attempted, Good: good, Errors: attempted - good, Measured: true}}}
}

// TestRestartRebuildsStatus checks that a new engine on the same store
// shows the status the old one showed, including data for quanta that had
// not settled when it stopped.
func TestRestartRebuildsStatus(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
	clock := func() time.Time { return now }
	db, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(ctx, Config{Store: db, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Load(ctx, map[string][]byte{"api.yaml": []byte(apiSpec)}); err != nil {
		t.Fatal(err)
	}
	bad := now.Truncate(time.Minute).Add(-2 * time.Minute) // settled
	unsettled := now.Truncate(time.Minute)                 // not yet judged
	for _, s := range []*slo.Series{minute(bad, 100, 50), minute(unsettled, 100, 10)} {
		if res, err := e.Append(ctx, "api", s, "test"); err != nil || res.Accepted != 1 {
			t.Fatalf("append: %+v %v", res, err)
		}
	}
	before, err := e.Status(ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	if before.Quanta.Bad != 1 {
		t.Fatalf("before restart: %+v", before.Quanta)
	}
	db.Close()

	now = now.Add(2 * time.Minute) // the unsettled minute settles while down
	db, err = sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e2, err := New(ctx, Config{Store: db, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if got := e2.SLOs(); len(got) != 1 || got[0].Name != "api" {
		t.Fatalf("SLOs after restart: %v", got)
	}
	after, err := e2.Status(ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	if after.Quanta.Bad != 2 || after.Events.Total != 200 {
		t.Fatalf("after restart: quanta %+v events %+v; want both bad minutes", after.Quanta, after.Events)
	}
	// A rescan of the store agrees with the rebuilt tracker.
	rescan, err := e2.Evaluate(ctx, "api", after.Window, after.At)
	if err != nil {
		t.Fatal(err)
	}
	if rescan.Quanta != after.Quanta || rescan.Events != after.Events {
		t.Fatalf("rescan %+v %+v, tracker %+v %+v", rescan.Quanta, rescan.Events, after.Quanta, after.Events)
	}
}

func TestLoadRefusesABadSetAndKeepsTheOld(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := New(ctx, Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Load(ctx, map[string][]byte{"api.yaml": []byte(apiSpec)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.Load(ctx, map[string][]byte{"api.yaml": []byte(apiSpec), "broken.yaml": []byte("name: x\nmethod: nope\n")})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("a broken file must be refused with ErrInvalid, got %v", err)
	}
	if got := e.SLOs(); len(got) != 1 || got[0].Name != "api" {
		t.Fatalf("the old set must stay: %v", got)
	}
	_, err = e.Load(ctx, map[string][]byte{"a.yaml": []byte(apiSpec), "b.yaml": []byte(apiSpec)})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("one SLO name in two files must be refused, got %v", err)
	}
	if _, err := e.Load(ctx, map[string][]byte{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Status(ctx, "api"); !errors.Is(err, ErrUnknownSLO) {
		t.Fatalf("a removed SLO must be unknown, got %v", err)
	}
	if defs, _ := db.ListSLOs(ctx); len(defs) != 0 {
		t.Fatalf("a removed SLO must leave the store too: %v", defs)
	}
}

// TestLoadResolvesOpenSLOAcrossFiles loads an OpenSLO SLO whose SLI lives
// in another file, and reloads it unchanged without rebuilding.
func TestLoadResolvesOpenSLOAcrossFiles(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := New(ctx, Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	dir := "../spec/testdata/openslo/valid/cross-file"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, de := range entries {
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[de.Name()] = b
	}
	if _, err := e.Load(ctx, files); err != nil {
		t.Fatal(err)
	}
	if len(e.SLOs()) == 0 {
		t.Fatal("no SLO loaded from the OpenSLO files")
	}
	name := e.SLOs()[0].Name
	before, _ := e.entry(name)
	if _, err := e.Load(ctx, files); err != nil {
		t.Fatal(err)
	}
	after, _ := e.entry(name)
	if before != after {
		t.Fatal("an unchanged SLO must keep its tracker across a reload")
	}
	def, err := e.Definition(name)
	if err != nil || !strings.Contains(string(def), "name: "+name) {
		t.Fatalf("definition %q, %v", def, err)
	}
}
