// Package metrics is the bridge from metric series to SLI rollups: the
// neutral series model that the remote write (ingest/promrw) and OTLP
// (ingest/otlp) decoders produce, PromQL-style selectors that name series,
// and the Collector that turns counters and histograms into slo.Rollups
// per quantum.
//
// # Model
//
// A Series has Labels (sorted, the metric name in "__name__"), float
// Samples with millisecond timestamps, and native Histograms (exponential
// or custom buckets, integer or float counts). Prometheus classic
// histograms stay what they are on the wire: one counter series per
// bucket, with an "le" label. OTLP explicit-bucket histograms become
// custom-bucket native histograms, OTLP exponential histograms exponential
// ones.
//
// # Sources
//
// An SLISource names an SLI's series: good (or bad) and total request
// counters, or a latency histogram judged against the SLI's threshold,
// with an optional rule marking the series of failed requests (a label
// matcher such as {code=~"5.."}, or a status label judged by the SLI's
// status rule). Selectors are PromQL instant-vector selectors: a metric
// name and =, !=, =~, !~ matchers, regular expressions anchored as in
// PromQL.
//
// # Reading counters
//
// The Collector keeps each series' last cumulative value and reads
// increases as Prometheus' rate() does: a decrease is a reset and the new
// value is the increase; the first sample of a series sets a baseline only;
// a stale marker (the NaN 0x7ff0000000000002, or OTLP's NO_RECORDED_VALUE)
// ends the series, so its next sample is a baseline again. OTLP start
// times are used too: a start that moves is a reset. Delta series (OTLP
// delta temporality) need no baseline. An increase between two samples
// belongs to the quantum of the later sample, also when the two straddle a
// quantum boundary: with scrapes every 15-60 s that shifts at most one
// scrape interval of traffic across each boundary and never loses or
// double-counts a request.
//
// Samples may arrive late by up to Config.MaxLag (5 minutes) behind the
// newest sample of their series; older ones are counted as Late. Every
// sample the Collector does not use is counted in the Report by Reason,
// with the first few named.
//
// # Exactness at the threshold
//
// Prometheus and OTLP buckets include their upper bound, (lo, hi];
// circllhist bins (package hist) include their lower bound, [lo, hi). The
// Collector does not rely on the histogram for the good/slow split: for a
// threshold t it takes OverThreshold = count − bucket(le=t) from the bucket
// whose bound is t, exactly, and requires such a bucket for classic and
// custom-bucket histograms (NoThresholdBucket otherwise: the quantum's
// requests of that histogram are reported, not guessed). So with buckets
// le=0.005 and le=0.01 and "<=5ms", the requests at or under 5 ms are
// exactly bucket(le=0.005), which is what the evaluator reads as
// Latency.Count() − OverThreshold.
//
// The rollup histogram gets each bucket's requests in the bins whose lower
// edge lies in (lo, hi], where events of the same latencies would count
// (see spread.go): a request of exactly a bound lands in the bound's own
// bin, like an event of that latency, so CountAtOrBelow(bound) on the
// histogram is exact at every bound at once and after any number of
// merges, and CountBelow(bound) counts the requests under it as the spread
// places them. Exponential buckets rarely have t as a bound; the bucket
// that straddles t is split by interpolating in log(value), as Prometheus
// does for native histograms, and the Result is marked Approximate.
//
// A "<" threshold cannot be exact on upper-inclusive buckets (requests of
// exactly t count as good); NewCollector says so in Warnings.
//
// # Lifetime
//
// Rollups are built as samples arrive; Flush hands out the quanta that end
// before a horizon (Watermark leaves room for MaxLag). MarshalState and
// UnmarshalState carry baselines and open quanta across restarts. A
// Collector is not safe for concurrent use.
//
// # Durability
//
// A server that acknowledges a request must not lose it, and must not
// count the sender's retry of a request it did not acknowledge. Begin
// takes a request's series and flush horizon as one Change: its Results
// and its record (AppendRecord: the new baselines of the series it
// touched, the increases it added to open quanta, the horizon) go to the
// store in one transaction, and the Change commits when that transaction
// did, or rolls back, leaving no trace, when it failed. After a crash,
// the last stored state (MarshalState) and the records since, applied in
// order (ApplyRecord), rebuild the Collector as it was after the last
// acknowledged request. A record is about 4 bytes a counter sample the
// request carried, once the store has the series' labels.
package metrics
