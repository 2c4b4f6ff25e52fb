package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"A full disk on the server is ErrFull.", &pgconn.PgError{Code: "53100"}, store.ErrFull},
		{"Too many connections is ErrUnavailable.", &pgconn.PgError{Code: "53300"}, store.ErrUnavailable},
		{"A server shutting down is ErrUnavailable.", &pgconn.PgError{Code: "57P01"}, store.ErrUnavailable},
		{"A deadlock is ErrUnavailable.", &pgconn.PgError{Code: "40P01"}, store.ErrUnavailable},
		{"A read-only standby is ErrUnavailable.", &pgconn.PgError{Code: "25006"}, store.ErrUnavailable},
		{"A connection exception is ErrUnavailable.", &pgconn.PgError{Code: "08006"}, store.ErrUnavailable},
		{"A NUL byte in a text is ErrInvalid.", &pgconn.PgError{Code: "22021"}, store.ErrInvalid},
		{"A connection cut mid-answer is ErrUnavailable.", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), store.ErrUnavailable},
		{"A syntax error is nobody's fault but the code's: left alone.", &pgconn.PgError{Code: "42601"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(tc.err)
			for _, s := range []error{store.ErrFull, store.ErrUnavailable, store.ErrInvalid} {
				if errors.Is(got, s) != (s == tc.want) {
					t.Errorf("classify(%v) = %v: errors.Is %v = %v", tc.err, got, s, errors.Is(got, s))
				}
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("classify(%v) = %v lost the cause", tc.err, got)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"A password in the user part is hidden.", "postgres://nines:s3cret@db/nines", "postgres://nines:xxxxx@db/nines"},
		{"A password parameter is hidden.", "postgres://db/nines?password=s3cret&sslmode=require", "postgres://db/nines?password=xxxxx&sslmode=require"},
		{"A URL without a password is kept.", "postgres:///nines?host=/run/postgresql", "postgres:///nines?host=/run/postgresql"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Redact(tc.in); got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// A URL that does not parse is refused without being echoed: pgx's
// message may hold the password.
func TestOpenRefusesABadURL(t *testing.T) {
	_, err := Open(context.Background(), "postgres://nines:s3cret@db:notaport/nines", Options{})
	if !errors.Is(err, store.ErrInvalid) || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open = %v, want ErrInvalid without the password", err)
	}
}

// Stored statuses that do not add up are refused on reading, not
// guessed at.
func TestCorruptStatusesAreRefused(t *testing.T) {
	good := func() rollupRow {
		var w rollupRow
		r := &slo.Rollup{Attempted: 3, Good: 3, Measured: true,
			Statuses: []slo.StatusCount{{Code: 200, Count: 2, Timed: 2}, {Code: 404, Count: 1, Timed: 1}}}
		_ = r.Latency.InsertN(0.1, 3)
		_ = r.Statuses[0].Latency.InsertN(0.1, 2)
		_ = r.Statuses[1].Latency.InsertN(0.1, 1)
		w.set(r)
		w.packed = packStatuses(w.statuses) // as stored
		return w
	}
	repack := func(spoil func(w *rollupRow)) func(w *rollupRow) {
		return func(w *rollupRow) {
			spoil(w)
			w.packed = packStatuses(w.statuses)
		}
	}
	var r slo.Rollup
	w := good()
	if err := w.rollup(&r); err != nil || len(r.Statuses) != 2 || r.Statuses[0].Latency.Count() != 2 || w.derived != 1 {
		t.Fatalf("round trip: %v, %+v, derived %d", err, r.Statuses, w.derived)
	}
	tests := []struct {
		name  string
		spoil func(w *rollupRow)
	}{
		{"A column cut short.", func(w *rollupRow) { w.packed = w.packed[:len(w.packed)-1] }},
		{"A column of another format.", func(w *rollupRow) { w.packed[0] = 2 }},
		{"An empty column.", func(w *rollupRow) { w.packed = []byte{statusesVersion} }},
		{"Codes out of order.", repack(func(w *rollupRow) { w.statuses[0], w.statuses[4] = 404, 200 })},
		{"A code out of range.", repack(func(w *rollupRow) { w.statuses[4] = 1 << 40 })},
		{"More timed than counted.", repack(func(w *rollupRow) { w.statuses[2] = 3 })},
		{"More over the threshold than timed.", repack(func(w *rollupRow) { w.statuses[3] = 5 })},
		{"A histogram for each of fewer statuses.", func(w *rollupRow) { w.hists = w.hists[:1] }},
		{"A derived histogram past the statuses.", func(w *rollupRow) { w.derived = 3 }},
		{"A derived histogram that would be negative.", func(w *rollupRow) { w.hist = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := good()
			tc.spoil(&w)
			if err := w.rollup(&r); err == nil {
				t.Errorf("rollup accepted %+v", w)
			}
		})
	}
}
