package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
	"github.com/nines-sre/nines/store"
)

// An SLO's stored rollups were judged by its SLI as it was when they
// arrived. When a reload changes what judges events, the engine either
// re-judges them from the counts and latencies each rollup keeps per
// status (slo.Rollup.Statuses), so the whole window reads as if the new
// SLI had always been in force, or, where that cannot be done, says so:
//
//   - a changed status rule or latency threshold is re-judged for every
//     stored quantum that kept its statuses (and, for a threshold, its
//     per-status latencies: per-minute histograms are kept for the full
//     retention, 35 days by default); older quanta, and those from sources
//     that keep no statuses (remote write, OTLP, rollups posted without
//     them), keep their verdicts, and the SLO carries the mark "judged by
//     the previous definition before T";
//   - a changed quantum or metric source cannot be re-judged at all: the
//     history restarts at T, the next quantum boundary, and the SLO's life
//     begins again with the first data after it.
//
// What judges an SLO's events, and the marks, are kept per SLO in the
// store (lineageKey) and written in the same transaction as the re-judged
// verdicts, so a crash between the two cannot leave verdicts of one
// definition under the name of another; and the engine checks them
// whenever it loads an SLO, so a definition changed while nines was down
// is re-judged at start.

// lineageKey is where the lineage of the SLO called name is kept.
func lineageKey(name string) string { return "lineage/" + name + "/" }

// Mark kinds.
const (
	// MarkRejudged: the quanta from Since on were re-judged by the SLI
	// in force since At.
	MarkRejudged = "rejudged"
	// MarkPrevious: the quanta before Before keep the verdicts of the
	// previous definition; they could not be re-judged.
	MarkPrevious = "previous-definition"
	// MarkRestart: the history restarts at Before; quanta before it
	// belong to an earlier definition and count nowhere.
	MarkRestart = "restart"
)

// Mark records one change of what judges an SLO's events.
type Mark struct {
	Kind string `json:"kind"`
	// At is when the change was loaded.
	At time.Time `json:"at"`
	// Before is the boundary the mark speaks of: for MarkPrevious the end
	// of the last quantum judged by the old definition, for MarkRestart
	// the start of the new history.
	Before time.Time `json:"before,omitzero"`
	// Note says what changed and what was done, in a sentence.
	Note string `json:"note"`
}

// lineage is what the store keeps of an SLO's judging definition.
type lineage struct {
	// SLI is the identity of what judges the SLO's events (sliIdentity).
	SLI sliIdentity `json:"sli"`
	// Floor is where the current history begins after a restart: rollups
	// before it belong to an earlier definition. Zero when there was none.
	Floor int64  `json:"floor,omitempty"`
	Marks []Mark `json:"marks,omitempty"`
}

// maxMarks bounds the marks kept per SLO.
const maxMarks = 20

// sliIdentity is made of the parts of an SLO that judge events.
type sliIdentity struct {
	Status  string `json:"status"`
	Latency string `json:"latency,omitempty"`
	Quantum string `json:"quantum"`
	Source  string `json:"source,omitempty"`
}

func identityOf(s *slo.SLO) sliIdentity {
	id := sliIdentity{Status: s.SLI.Status.String(), Quantum: slo.FormatDuration(s.Quantum)}
	if s.SLI.Status.IsZero() {
		id.Status = "ok flag"
	}
	if l := s.SLI.Latency; l != nil {
		id.Latency = l.String()
	}
	if src := s.SLI.Source; src != nil {
		id.Source = strings.Join([]string{"good=" + src.Good, "bad=" + src.Bad, "total=" + src.Total, "histogram=" + src.Histogram,
			"errors=" + src.Errors, "statusLabel=" + src.StatusLabel, "unit=" + src.Unit}, " ")
	}
	if e := s.SLI.Edge; e != nil {
		id.Source = "edge=" + e.From + "->" + e.To
	}
	return id
}

// loadLineage reads the lineage of the SLO called name; ok is false when
// none is stored.
func loadLineage(ctx context.Context, st store.State, name string) (lineage, bool, error) {
	b, err := st.GetState(ctx, lineageKey(name))
	if errors.Is(err, store.ErrNotFound) {
		return lineage{}, false, nil
	}
	if err != nil {
		return lineage{}, false, err
	}
	var l lineage
	if err := json.Unmarshal(b, &l); err != nil {
		return lineage{}, false, fmt.Errorf("SLO %s: stored lineage: %w", name, err)
	}
	return l, true, nil
}

// StoredFloor is where the current history of the SLO called name begins
// in st (after a restart mark), math.MinInt64 when all of it counts. A
// replay of a store (nines replay --data) starts its life no earlier.
func StoredFloor(ctx context.Context, st store.State, name string) (int64, error) {
	l, ok, err := loadLineage(ctx, st, name)
	if err != nil || !ok || l.Floor == 0 {
		return math.MinInt64, err
	}
	return l.Floor, nil
}

// Marks returns the changes of definition the SLO called name went
// through that are still in its stored history, oldest first.
func (e *Engine) Marks(ctx context.Context, name string) ([]Mark, error) {
	if _, err := e.entry(name); err != nil {
		return nil, err
	}
	l, _, err := loadLineage(ctx, e.cfg.Store, name)
	return l.Marks, err
}

// judgeLineage brings the stored verdicts of s in line with its SLI: it
// compares what judges s now with what the store says judged its rollups,
// re-judges or restarts the history as the package comment says, and
// stores the new lineage with the new verdicts in one transaction. It
// returns the warnings a reload reports; an error leaves the store as it
// was.
func (e *Engine) judgeLineage(ctx context.Context, s *slo.SLO, now time.Time) ([]spec.Warning, error) {
	old, ok, err := loadLineage(ctx, e.cfg.Store, s.Name)
	if err != nil {
		return nil, err
	}
	id := identityOf(s)
	if ok && old.SLI == id {
		return nil, nil
	}
	next := old
	next.SLI = id
	app := e.cfg.Store.Appender(ctx)
	var warnings []spec.Warning
	warn := func(format string, args ...any) {
		warnings = append(warnings, spec.Warning{File: "SLO " + s.Name, Field: "sli", Message: fmt.Sprintf(format, args...)})
	}
	boundary := time.Unix(0, slo.QuantumStart(now.UnixNano(), s.Quantum)).UTC().Add(s.Quantum)
	switch {
	case !ok:
		// First seen: its rollups, if any, were judged by what judges it now.
	case old.SLI.Quantum != id.Quantum || old.SLI.Source != id.Source:
		what := "quantum"
		if old.SLI.Source != id.Source {
			what = "metric source"
		}
		next.Floor = boundary.UnixNano()
		note := fmt.Sprintf("the SLI's %s changed: stored rollups cannot be judged again, so the history restarts at %s", what, boundary.Format(time.RFC3339))
		next.Marks = append(next.Marks, Mark{Kind: MarkRestart, At: now.UTC(), Before: boundary, Note: note})
		warn("%s", note)
	default:
		mark, err := e.rejudge(ctx, app, s, old.SLI, id, now)
		if err != nil {
			app.Rollback()
			return nil, fmt.Errorf("SLO %s: re-judging stored rollups: %w", s.Name, err)
		}
		for _, m := range mark {
			next.Marks = append(next.Marks, m)
			warn("%s", m.Note)
		}
	}
	if n := len(next.Marks) - maxMarks; n > 0 {
		next.Marks = next.Marks[n:]
	}
	b, err := json.Marshal(next)
	if err == nil {
		err = app.SetState(lineageKey(s.Name), b)
	}
	if err != nil {
		app.Rollback()
		return nil, err
	}
	if err := app.Commit(); err != nil {
		return nil, fmt.Errorf("SLO %s: storing re-judged verdicts: %w", s.Name, err)
	}
	return warnings, nil
}

// rejudge re-judges every stored rollup of s that kept what it takes,
// into app, and returns the marks that say what was done.
func (e *Engine) rejudge(ctx context.Context, app store.Appender, s *slo.SLO, old, id sliIdentity, now time.Time) ([]Mark, error) {
	latencyChanged := old.Latency != id.Latency
	var done, kept, ambiguous int
	var lastKept, firstDone int64 = math.MinInt64, math.MaxInt64
	var why error
	it := e.cfg.Store.Rollups(ctx, s.Name, s.Quantum, math.MinInt64, now.Add(e.cfg.MaxSkew).UnixNano())
	defer it.Close()
	var r slo.Rollup
	var before, after []uint64
	for it.Next() {
		it.At().CopyTo(&r)
		before = verdictsOf(&r, before[:0])
		var err error
		if latencyChanged {
			var rj slo.Rejudged
			rj, err = s.SLI.Rejudge(&r)
			ambiguous += int(rj.Ambiguous)
		} else {
			err = s.SLI.RejudgeStatus(&r)
		}
		switch {
		case errors.Is(err, slo.ErrNoStatuses) || errors.Is(err, slo.ErrLatencyCompacted) || errors.Is(err, slo.ErrThresholdChanged):
			kept++
			lastKept = max(lastKept, r.Start)
			if why == nil {
				why = err
			}
			continue
		case err != nil:
			return nil, err
		}
		done++
		firstDone = min(firstDone, r.Start)
		if after = verdictsOf(&r, after[:0]); slices.Equal(before, after) {
			continue // judged the same: nothing to write
		}
		if err := app.SetCounts(s.Name, s.Quantum, &r); err != nil {
			return nil, err
		}
		firstDone = min(firstDone, r.Start)
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return nil, err
	}
	change := describeChange(old, id)
	var marks []Mark
	if done > 0 {
		note := fmt.Sprintf("%s: re-judged %d stored quanta from their per-status counts", change, done)
		if ambiguous > 0 {
			note += fmt.Sprintf("; %d requests fell in the threshold's own histogram bin and were counted as the histogram counts them (exact for latencies recorded in whole units of the bin)", ambiguous)
		}
		marks = append(marks, Mark{Kind: MarkRejudged, At: now.UTC(), Before: time.Unix(0, firstDone).UTC(), Note: note})
	}
	if kept > 0 {
		before := time.Unix(0, lastKept).UTC().Add(s.Quantum)
		note := fmt.Sprintf("%s: %d stored quanta keep the verdicts of the previous definition, the last ending %s (%v)",
			change, kept, before.Format(time.RFC3339), why)
		marks = append(marks, Mark{Kind: MarkPrevious, At: now.UTC(), Before: before, Note: note})
	}
	if done == 0 && kept == 0 {
		marks = append(marks, Mark{Kind: MarkRejudged, At: now.UTC(), Note: change + ": nothing was stored to re-judge"})
	}
	return marks, nil
}

func describeChange(old, id sliIdentity) string {
	var parts []string
	if old.Status != id.Status {
		parts = append(parts, fmt.Sprintf("status rule %q → %q", old.Status, id.Status))
	}
	if old.Latency != id.Latency {
		or := func(s string) string {
			if s == "" {
				return "none"
			}
			return s
		}
		parts = append(parts, fmt.Sprintf("latency threshold %s → %s", or(old.Latency), or(id.Latency)))
	}
	return "the SLI's " + strings.Join(parts, " and ") + " changed"
}

// verdictsOf appends to dst what re-judging may change in r: its four
// counts and every status's Over.
func verdictsOf(r *slo.Rollup, dst []uint64) []uint64 {
	dst = append(dst, r.Good, r.Errors, r.Slow, r.OverThreshold)
	for i := range r.Statuses {
		dst = append(dst, r.Statuses[i].Over)
	}
	return dst
}
