package slo

import (
	"slices"
	"testing"
	"time"
)

func TestCoveringSeqYieldsCovering(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2025, 10, 20, 13, 7, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		spec WindowSpec
		to   time.Time
	}{
		{"Calendar days in Berlin across a change of summer time.", WindowSpec{Calendar: Day, Location: berlin}, from.AddDate(0, 0, 200)},
		{"Calendar weeks in UTC.", WindowSpec{Calendar: Week, Location: time.UTC}, from.AddDate(0, 3, 0)},
		{"Months over two years.", WindowSpec{Calendar: Month, Location: time.UTC}, from.AddDate(2, 0, 0)},
		{"A span that ends where it starts.", WindowSpec{Calendar: Day, Location: time.UTC}, from},
		{"A rolling window.", WindowSpec{Rolling: 30 * 24 * time.Hour}, from.AddDate(0, 0, 45)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.spec.Covering(from, tc.to)
			got := slices.Collect(tc.spec.CoveringSeq(from, tc.to))
			if !slices.EqualFunc(got, want, func(a, b Window) bool { return a.Start.Equal(b.Start) && a.End.Equal(b.End) }) {
				t.Fatalf("CoveringSeq %v, Covering %v", got, want)
			}
			for range tc.spec.CoveringSeq(from, tc.to) {
				break // stopping early must not panic
			}
		})
	}
}
