package store

import (
	"context"
	"time"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/slo"
)

// LoadSeries reads the rollups of (sli, quantum) in [from, to) into a
// Series the caller owns, without their Statuses: evaluation never reads
// them, and their histograms would double the memory a long range takes.
// Re-judging reads them with LoadSeriesStatuses, or rollup by rollup from
// Querier.Rollups.
func LoadSeries(ctx context.Context, q Querier, sli string, quantum time.Duration, from, to int64) (*slo.Series, error) {
	return loadSeries(ctx, q, sli, quantum, from, to, false)
}

// LoadSeriesStatuses is LoadSeries with every rollup's Statuses.
func LoadSeriesStatuses(ctx context.Context, q Querier, sli string, quantum time.Duration, from, to int64) (*slo.Series, error) {
	return loadSeries(ctx, q, sli, quantum, from, to, true)
}

func loadSeries(ctx context.Context, q Querier, sli string, quantum time.Duration, from, to int64, statuses bool) (*slo.Series, error) {
	it := q.Rollups(ctx, sli, quantum, from, to)
	s := &slo.Series{Quantum: quantum}
	for it.Next() {
		s.Rollups = append(s.Rollups, slo.Rollup{})
		dst := &s.Rollups[len(s.Rollups)-1]
		if statuses {
			it.At().CopyTo(dst)
			continue
		}
		r := *it.At()
		r.Statuses = nil
		r.CopyTo(dst)
	}
	return s, closeIter(it.Err(), it.Close())
}

// HourlyHistogram is the merged latency histogram of one hour.
type HourlyHistogram struct {
	Start   int64 // the hour's first instant, Unix ns
	Latency hist.Histogram
}

// LoadHourly reads the hourly histograms of (sli, quantum) in [from, to)
// into a slice the caller owns.
func LoadHourly(ctx context.Context, q Querier, sli string, quantum time.Duration, from, to int64) ([]HourlyHistogram, error) {
	it := q.HourlyHistograms(ctx, sli, quantum, from, to)
	var hs []HourlyHistogram
	for it.Next() {
		start, h := it.At()
		hs = append(hs, HourlyHistogram{Start: start})
		h.CopyTo(&hs[len(hs)-1].Latency)
	}
	return hs, closeIter(it.Err(), it.Close())
}

func closeIter(err, cerr error) error {
	if err != nil {
		return err
	}
	return cerr
}

// ErrRollups returns a RollupIterator that yields nothing and reports err,
// for backends that fail before they can start a query.
func ErrRollups(err error) RollupIterator { return errIter{err} }

// ErrHistograms returns a HistogramIterator that yields nothing and
// reports err.
func ErrHistograms(err error) HistogramIterator { return errHistIter{errIter{err}} }

type errIter struct{ err error }

func (errIter) Next() bool      { return false }
func (errIter) At() *slo.Rollup { return nil }
func (e errIter) Err() error    { return e.err }
func (errIter) Close() error    { return nil }

// errHistIter adapts errIter to HistogramIterator, whose At differs.
type errHistIter struct{ errIter }

func (errHistIter) At() (int64, *hist.Histogram) { return 0, nil }
