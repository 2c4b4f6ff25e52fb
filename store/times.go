package store

import (
	"fmt"
	"time"

	"github.com/nines-sre/nines/slo"
)

// The times nines stores: every instant written anywhere (a rollup's
// quantum, an incident's timestamps and timeline, an annotation, a
// silence) lies in [MinTimeNs, MaxTimeNs), 1970-01-01T00:00:00Z up to
// 2200-01-01T00:00:00Z, and anything outside is refused with an error
// wrapping ErrTimeRange.
//
// Times are kept as Unix nanoseconds in an int64, which spans only
// 1677-09-21 to 2262-04-11: outside that, time.Time.UnixNano wraps
// around without an error, and 9999-12-31 would be stored as 1816. The
// range starts at the Unix epoch, which quanta are aligned to: nothing
// nines measures happened before it, and Go's zero time (0001-01-01),
// which a client may send meaning "none", is refused rather than read as
// absent. It ends 62 years short of the int64 limit, so that a stored
// time plus any span nines adds to one (a window of 400 days, a
// retention, a due date, a silence of 90 days) still fits.
const (
	MinTimeNs int64 = 0
	MaxTimeNs int64 = 7_258_118_400 * int64(time.Second)
)

// MinTime and MaxTime are MinTimeNs and MaxTimeNs as times.
func MinTime() time.Time { return time.Unix(0, MinTimeNs).UTC() }
func MaxTime() time.Time { return time.Unix(0, MaxTimeNs).UTC() }

// ErrTimeRange is wrapped by the error for a time outside [MinTime,
// MaxTime). It wraps ErrInvalid: servers answer 400.
var ErrTimeRange = fmt.Errorf("%w: outside the range of times nines stores, %s up to %s",
	ErrInvalid, MinTime().Format(time.RFC3339), MaxTime().Format(time.RFC3339))

// ErrOverflow is wrapped by the error for a write that would take a count
// of one quantum past 2^64−1, the most a rollup holds: the write is
// refused whole rather than stored wrapped around. It is slo.ErrOverflow,
// named here so that callers of the store need not import slo; stores
// wrap it together with ErrInvalid, so servers answer 400.
var ErrOverflow = slo.ErrOverflow

// CheckTime returns an error wrapping ErrTimeRange unless t lies in
// [MinTime, MaxTime). what names the value in the message ("mitigated",
// "annotation time").
func CheckTime(what string, t time.Time) error {
	if t.Before(MinTime()) || !t.Before(MaxTime()) {
		return fmt.Errorf("%s %s: %w", what, t.UTC().Format(time.RFC3339Nano), ErrTimeRange)
	}
	return nil
}

// CheckTimeNs is CheckTime for Unix nanoseconds.
func CheckTimeNs(what string, ns int64) error {
	if ns < MinTimeNs || ns >= MaxTimeNs {
		return fmt.Errorf("%s %s: %w", what, time.Unix(0, ns).UTC().Format(time.RFC3339Nano), ErrTimeRange)
	}
	return nil
}

// ClampNs returns t in Unix nanoseconds, moved into [MinTimeNs,
// MaxTimeNs]: the bound of a read, where a time before everything stored
// (the zero time meaning "from the start") or after it simply selects
// everything on that side, and must not wrap around into the range.
func ClampNs(t time.Time) int64 {
	switch {
	case t.Before(MinTime()):
		return MinTimeNs
	case t.After(MaxTime()):
		return MaxTimeNs
	}
	return t.UnixNano()
}
