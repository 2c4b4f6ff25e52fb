package store

import (
	"math"
	"testing"
	"time"

	"github.com/nines-sre/nines/hist"
)

func TestCeilHour(t *testing.T) {
	h := int64(time.Hour)
	for _, c := range []struct{ in, want int64 }{
		{0, 0}, {1, h}, {h, h}, {h + 1, 2 * h}, {-1, 0}, {math.MaxInt64, math.MaxInt64},
	} {
		if got := CeilHour(c.in); got != c.want {
			t.Errorf("CeilHour(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

// The merger sums rows of one hour and hands out each hour once, the
// last one at the end of the rows.
func TestHourMergerSumsEachHour(t *testing.T) {
	h := int64(time.Hour)
	rows := []struct {
		start int64
		v     float64
	}{{0, 1}, {h / 2, 2}, {h, 3}, {3 * h, 4}, {3*h + 5, 5}}
	i := 0
	read := func(hg *hist.Histogram) (int64, bool) {
		if i == len(rows) {
			return 0, false
		}
		hg.Reset()
		if err := hg.Insert(rows[i].v); err != nil {
			t.Fatal(err)
		}
		i++
		return rows[i-1].start, true
	}
	var m HourMerger
	type hour struct {
		start int64
		n     uint64
	}
	var got []hour
	for m.Next(read) {
		s, hg := m.At()
		got = append(got, hour{s, hg.Count()})
	}
	want := []hour{{0, 2}, {h, 1}, {3 * h, 2}}
	if len(got) != len(want) {
		t.Fatalf("hours %v, want %v", got, want)
	}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("hour %d: %v, want %v", k, got[k], want[k])
		}
	}
}
