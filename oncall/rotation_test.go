package oncall

import (
	"testing"
	"time"
	_ "time/tzdata" // the DST cases need their zones wherever the tests run

	"gopkg.in/yaml.v3"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// parseOne reads the rotations of a catalog text.
func parseRotations(t testing.TB, text string) []Rotation {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	rs, err := ParseRotations("services.yaml", &doc)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func rotation12h(t testing.TB, zone, start string) Rotation {
	return parseRotations(t, `
rotations:
  - name: payments
    members: [ana, ben, cem]
    shift: 12h
    handoff: "09:00"
    start: `+start+`
    time_zone: `+zone+`
`)[0]
}

// TestShiftsAcrossDST holds hand-offs at the local times users wrote: a
// 12 h shift over a fall-back change lasts 13 real hours, over a
// spring-forward change 11.
func TestShiftsAcrossDST(t *testing.T) {
	for _, c := range []struct {
		name, zone, start string
		shift             int64 // the night shift over the change
		from, to          string
		hours             float64
		who               string
	}{
		// Berlin leaves CEST (+2) for CET (+1) at 03:00 on 2026-10-25.
		{"In Berlin the night shift over the fall-back change lasts 13 hours.", "Europe/Berlin", "2026-10-20", 9,
			"2026-10-24T19:00:00Z", "2026-10-25T08:00:00Z", 13, "ana"},
		// New York leaves EDT (-4) for EST (-5) at 02:00 on 2026-11-01.
		{"In New York the night shift over the fall-back change lasts 13 hours.", "America/New_York", "2026-10-27", 9,
			"2026-11-01T01:00:00Z", "2026-11-01T14:00:00Z", 13, "ana"},
		// Berlin leaves CET for CEST at 02:00 on 2026-03-29.
		{"In Berlin the night shift over the spring-forward change lasts 11 hours.", "Europe/Berlin", "2026-03-24", 9,
			"2026-03-28T20:00:00Z", "2026-03-29T07:00:00Z", 11, "ana"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rotation12h(t, c.zone, c.start)
			from, _ := time.Parse(time.RFC3339, c.from)
			to, _ := time.Parse(time.RFC3339, c.to)
			if b := r.Boundary(c.shift); !b.Equal(from) {
				t.Errorf("shift %d starts %s, want %s", c.shift, b.UTC(), from)
			}
			if b := r.Boundary(c.shift + 1); !b.Equal(to) {
				t.Errorf("shift %d ends %s, want %s", c.shift, b.UTC(), to)
			}
			if h := r.Boundary(c.shift + 1).Sub(r.Boundary(c.shift)).Hours(); h != c.hours {
				t.Errorf("lasts %gh, want %gh", h, c.hours)
			}
			for _, at := range []time.Time{from, from.Add(6 * time.Hour), to.Add(-time.Nanosecond)} {
				if who, ok := r.OnCall(at); !ok || who != c.who {
					t.Errorf("at %s: %q on call, want %q", at.UTC(), who, c.who)
				}
				if k, _ := r.ShiftIndex(at); k != c.shift {
					t.Errorf("at %s: shift %d, want %d", at.UTC(), k, c.shift)
				}
			}
			if who, _ := r.OnCall(to); who != "ben" {
				t.Errorf("at the morning hand-off %q is on call, want ben", who)
			}
			// The day shift keeps its local hours: 09:00 to 21:00.
			day := r.Boundary(c.shift + 1).In(r.Zone)
			if day.Hour() != 9 || r.Boundary(c.shift+2).In(r.Zone).Hour() != 21 {
				t.Errorf("day shift %s to %s, want 09:00 to 21:00 local", day, r.Boundary(c.shift+2).In(r.Zone))
			}
		})
	}
}

// TestHandoffInGapAndOverlap: a hand-off at a local time the change skips
// moves later by the gap; one at a time it repeats takes the first.
func TestHandoffInGapAndOverlap(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	r := Rotation{Name: "x", Members: []Member{{Name: "a"}, {Name: "b"}}, Shift: 24 * time.Hour, Handoff: 2*60 + 30,
		Start: time.Date(2026, 3, 1, 0, 0, 0, 0, berlin), Zone: berlin}
	k := int64(28) // 2026-03-29
	if got, want := r.Boundary(k).UTC(), time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("hand-off at 02:30 on the spring-forward day: %s, want %s (03:30 CEST)", got, want)
	}
	if got, want := r.Boundary(k-1).UTC(), time.Date(2026, 3, 28, 1, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("the day before: %s, want %s", got, want)
	}
	r.Start = time.Date(2026, 10, 1, 0, 0, 0, 0, berlin)
	k = 24 // 2026-10-25
	if got, want := r.Boundary(k).UTC(), time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("hand-off at 02:30 on the fall-back day: %s, want %s (the first 02:30, CEST)", got, want)
	}
	// Every instant of those days is in exactly one shift.
	for at := time.Date(2026, 10, 24, 0, 0, 0, 0, time.UTC); at.Before(time.Date(2026, 10, 27, 0, 0, 0, 0, time.UTC)); at = at.Add(7 * time.Minute) {
		k, _ := r.ShiftIndex(at)
		if r.Boundary(k).After(at) || !r.Boundary(k+1).After(at) {
			t.Fatalf("at %s: shift %d runs %s to %s", at, k, r.Boundary(k), r.Boundary(k+1))
		}
	}
}

// TestOverridesAndSegments: an override takes the on-call only where it
// says, and segments split there.
func TestOverridesAndSegments(t *testing.T) {
	r := parseRotations(t, `
rotations:
  - name: payments
    members: [ana, ben]
    shift: 1w
    handoff: "10:00"
    start: 2026-11-02
    time_zone: Europe/Berlin
    overrides:
      - {member: cem, replaces: ana, from: "2026-11-04 12:00", to: "2026-11-05 12:00"}
      - {member: dan, replaces: ana, from: "2026-11-10 00:00", to: "2026-11-11 00:00"}
`)[0]
	segs := r.Segments(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 16, 9, 0, 0, 0, time.UTC))
	var got []string
	for _, s := range segs {
		got = append(got, s.From.In(r.Zone).Format("01-02 15:04")+" "+s.Person)
	}
	// dan's override falls in ben's week, so it does not apply.
	want := []string{"11-02 10:00 ana", "11-04 12:00 cem", "11-05 12:00 ana", "11-09 10:00 ben"}
	if len(got) != len(want) {
		t.Fatalf("segments %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("segment %d: %q, want %q", i, got[i], want[i])
		}
	}
	if who, ok := r.OnCall(time.Date(2026, 11, 2, 8, 59, 0, 0, time.UTC)); ok {
		t.Errorf("before the first shift %q is on call", who)
	}
}
