package ingest

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/nines-sre/nines/slo"
)

// An event whose count would take its quantum past 2^64−1 events is a
// malformed line, not a count wrapped around to a handful.
func TestReadRefusesAnEventThatWouldOverflowItsQuantum(t *testing.T) {
	in := `{"time":"2026-11-24T10:00:30Z","status":200,"count":18446744073709551615}
{"time":"2026-11-24T10:00:40Z","status":500,"count":10}
{"time":"2026-11-24T10:01:30Z","status":500,"count":10}
`
	s, rep := mustRead(t, []byte(in), opts(t, nil))
	if rep.Events != 2 || rep.Malformed != 1 || len(rep.Errors) != 1 || rep.Errors[0].Line != 2 ||
		!strings.Contains(rep.Errors[0].Msg, "2^64-1") {
		t.Fatalf("report %+v, want line 2 refused for overflowing its quantum", rep)
	}
	if len(s.Rollups) != 2 || s.Rollups[0].Attempted != math.MaxUint64 || s.Rollups[0].Good != math.MaxUint64 || s.Rollups[1].Attempted != 10 {
		t.Errorf("rollups %+v, want the first quantum as its first event left it", s.Rollups)
	}

	// Strict: the read ends there.
	_, _, err := Read(context.Background(), strings.NewReader(in), opts(t, func(o *Options) { o.Strict = true }))
	var le LineError
	if !errors.As(err, &le) || le.Line != 2 {
		t.Errorf("strict read: %v, want line 2", err)
	}
}

// Workers that each fit but together overflow a quantum fail the read
// with slo.ErrOverflow.
func TestReadRefusesWorkersThatTogetherOverflowAQuantum(t *testing.T) {
	line := `{"time":"2026-11-24T10:00:30Z","status":200,"count":9223372036854775808}` + "\n"
	var b strings.Builder
	for b.Len() < 4<<20 { // several blocks, so several workers
		b.WriteString(line)
	}
	_, _, err := Read(context.Background(), strings.NewReader(b.String()), opts(t, func(o *Options) { o.Workers = 4 }))
	if !errors.Is(err, slo.ErrOverflow) {
		t.Errorf("read of many events of 2^63: %v, want slo.ErrOverflow", err)
	}
}
