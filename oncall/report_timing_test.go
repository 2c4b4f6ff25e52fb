//go:build unix

package oncall

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/store/sqlite"
)

// yearOfHistory is 50 rotations in five zones (12 h, 1 d and 1 w
// shifts, six to nine people, an override a month) with a service each,
// and a year of pages (10 a day per rotation: 182,500) and incidents
// (one every two days per rotation: 9,125), a third of them from the
// pages' own alert groups.
func yearOfHistory(tb testing.TB) ([]Rotation, map[string]string, []Page, []Incident) {
	zones := []string{"Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "UTC"}
	shifts := []time.Duration{12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}
	rng := rand.New(rand.NewPCG(14, 5))
	from := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	var rots []Rotation
	services := map[string]string{}
	var pages []Page
	var incs []Incident
	for i := range 50 {
		loc := mustZone(tb, zones[i%len(zones)])
		r := Rotation{Name: fmt.Sprintf("rot-%02d", i), Shift: shifts[i%len(shifts)], Handoff: 9 * 60, Zone: loc,
			Start: time.Date(2025, 11, 3, 0, 0, 0, 0, loc), Working: DefaultWorkingHours()}
		for m := range 6 + i%4 {
			r.Members = append(r.Members, Member{Name: fmt.Sprintf("p%02d-%d", i, m)})
		}
		for m := range 12 {
			o := time.Date(2025, 12+time.Month(m), 10, 12, 0, 0, 0, loc)
			r.Overrides = append(r.Overrides, Override{Member: "stand-in", From: o, To: o.Add(8 * time.Hour)})
		}
		rots = append(rots, r)
		svc := fmt.Sprintf("svc-%02d", i)
		services[svc] = r.Name
		for n := range 3650 {
			at := from.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
			pages = append(pages, Page{At: at, Service: svc, GroupKey: fmt.Sprintf("%s/%d", svc, n%400), Fingerprint: fmt.Sprint(n)})
		}
		for n := range 182 {
			at := from.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
			inc := Incident{ID: int64(i*1000 + n), Services: []string{svc}, Start: at, Detected: at, Engaged: at.Add(10 * time.Minute),
				Mitigated: at.Add(time.Hour), Resolved: at.Add(2 * time.Hour), Acted: n%2 == 0}
			if n%3 == 0 {
				inc.GroupKey = fmt.Sprintf("%s/%d", svc, n)
			}
			incs = append(incs, inc)
		}
	}
	return rots, services, pages, incs
}

// TestLinkIndexAgrees: the index classifies every page of a year as the
// plain definition (linked, over every incident) does, with long and
// unresolved incidents among the short ones.
func TestLinkIndexAgrees(t *testing.T) {
	_, _, pages, incs := yearOfHistory(t)
	incs[3].Resolved = incs[3].Start.Add(90 * 24 * time.Hour)
	incs[7].Resolved = time.Time{}
	incs[11].Acted, incs[11].Resolved = false, incs[11].Start.Add(30*24*time.Hour)
	for svc := range 3 {
		var mine []*Incident
		for i := range incs {
			if incs[i].Services[0] == fmt.Sprintf("svc-%02d", svc) {
				mine = append(mine, &incs[i])
			}
		}
		x := newLinkIndex(mine, DefaultLinkGrace)
		for i := range pages {
			p := &pages[i]
			if p.Service != fmt.Sprintf("svc-%02d", svc) {
				continue
			}
			a1, b1 := noise(p, mine, DefaultLinkGrace)
			a2, b2 := x.noise(p)
			if a1 != a2 || b1 != b2 {
				t.Fatalf("page %+v: plain %v %v, index %v %v", p, a1, b1, a2, b2)
			}
		}
	}
}

// BenchmarkReportYear50 times the report of the last month of a year of
// history for 50 rotations, with all twelve months side by side.
//
//	go test -run '^$' -bench ReportYear50 -benchtime 10x ./oncall/
func BenchmarkReportYear50(b *testing.B) {
	rots, services, pages, incs := yearOfHistory(b)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	// The machine is shared: CPU time says what the report costs when
	// wall time says how busy the neighbours were.
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		rep, err := Compute(rots, services, pages, incs, Month{2026, time.November}, Options{Now: now, Months: 12})
		if err != nil || len(rep.Rotations) != 50 {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(n)/1e6, "cpu-ms/op")
}

// cpuTime is the process's user and system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSourceYear50 stores the same year as notify's delivery history
// (one delivery per page, to PagerDuty) and as incidents in a SQLite
// store, then times the whole report as nines serve computes it: the
// history read day by day, the incidents listed and read whole, and the
// figures; for the default six months and for the whole year.
//
//	go test -run '^$' -bench SourceYear50 -benchtime 5x ./oncall/
func BenchmarkSourceYear50(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{Sync: sqlite.SyncNormal})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rots, services, pages, incs := yearOfHistory(b)
	app := db.Appender(ctx)
	for i, p := range pages {
		d := notify.Delivery{ID: fmt.Sprintf("%019d-%06d", p.At.UnixNano(), i), Receiver: "pagerduty", Kind: "pagerduty", Status: "firing",
			GroupKey: p.GroupKey, Created: p.At, Delivered: p.At, Attempts: 1,
			Alerts: []notify.DeliveredAlert{{Fingerprint: p.Fingerprint, Status: "firing", Severity: "page", Service: p.Service, StartsAt: p.At}}}
		key, val, err := notify.HistoryRecord(&d)
		if err == nil {
			err = app.SetState(key, val)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	var stored []*incident.Incident
	for _, x := range incs {
		inc := &incident.Incident{Title: "outage", Services: x.Services, Severity: 2, Status: incident.Resolved, DetectedBy: incident.ByMonitoring,
			GroupKey: x.GroupKey, ImpactStart: x.Start, Detected: x.Detected, Engaged: x.Engaged, Mitigated: x.Mitigated, Resolved: x.Resolved,
			Created: x.Start, Updated: x.Resolved}
		if x.Acted {
			inc.Timeline = []incident.Entry{{At: x.Engaged, Kind: incident.KeepWorking, Text: "rolled back"}}
		}
		stored = append(stored, inc)
	}
	if err := db.ImportIncidents(ctx, stored); err != nil {
		b.Fatal(err)
	}
	for _, months := range []int{6, 12} {
		b.Run(fmt.Sprintf("months=%d", months), func(b *testing.B) {
			src := &Source{History: db, Incidents: db, Options: Options{Months: months},
				Catalog: func() ([]Rotation, map[string]string) { return rots, services }}
			now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			cpu0 := cpuTime()
			n := 0
			for b.Loop() {
				rep, err := src.Report(ctx, Month{2026, time.November}, now)
				if err != nil || len(rep.Rotations) != 50 || rep.UnreadableHistory != 0 {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(n)/1e6, "cpu-ms/op")
		})
	}
}
