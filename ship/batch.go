package ship

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"

	"github.com/nines-sre/nines/server/wire"
	"github.com/nines-sre/nines/slo"
)

// batch is lines of one or more files on their way to the server.
type batch struct {
	ranges []rangeState
	key    string
	// lines counts the lines of its ranges that became events; newest
	// is the latest event time among them (Unix nanoseconds).
	lines  int64
	newest int64
	// started is when its first line was read.
	started time.Time
	// body collects events as JSON lines (lines mode); aggs count
	// rollups per target SLO (rollup mode).
	body []byte
	aggs []*slo.Aggregator
	// targets are the SLOs its rollups were counted for, and series
	// their rollups once it is sealed.
	targets []*target
	series  []*slo.Series
	// reqs are the requests it is sent as, built when it is sealed.
	reqs []request
	// refused is set by the sender when the server refused one of them
	// for good; rejudged once the SLIs were asked for again after that.
	refused, rejudged bool
	// resent marks a batch rebuilt after a restart.
	resent bool
	// err is an answer that stops the run (*ServerRefusedError).
	err error
}

// extend adds bytes [start, end) of content id to the batch's ranges.
func (b *batch) extend(id string, start, end int64) {
	if n := len(b.ranges); n > 0 && b.ranges[n-1].ID == id && b.ranges[n-1].End == start {
		b.ranges[n-1].End = end
		return
	}
	b.ranges = append(b.ranges, rangeState{ID: id, Start: start, End: end})
}

// request is one HTTP request of a batch.
type request struct {
	path, contentType, key string
	body                   []byte
	// slo names the SLO of a rollups request, for messages.
	slo string
}

// encoder turns events into requests: events as JSON lines, or rollups.
type encoder interface {
	// add folds an event into b; an error refuses the event, which is
	// then counted as malformed.
	add(b *batch, e *slo.Event) error
	// full reports a batch that should be sent now.
	full(b *batch) bool
	// seal builds b's requests under b.key.
	seal(b *batch) error
	// newBatch prepares an empty batch.
	newBatch(b *batch)
}

// target is an SLO that rollups are counted for.
type target struct {
	name    string
	sli     slo.SLI
	quantum time.Duration
	// definition is the spec text the server gave, to notice edits.
	definition string
}

// linesEncoder sends events as JSON lines to /api/v1/events.
type linesEncoder struct {
	path               string
	maxLines, maxBytes int
}

func newLinesEncoder(query url.Values, maxLines, maxBytes int) *linesEncoder {
	return &linesEncoder{path: "/api/v1/events?" + query.Encode(), maxLines: maxLines, maxBytes: maxBytes}
}

func (l *linesEncoder) newBatch(b *batch) {}

func (l *linesEncoder) add(b *batch, e *slo.Event) error {
	b.body = appendEvent(b.body, e)
	b.body = append(b.body, '\n')
	return nil
}

func (l *linesEncoder) full(b *batch) bool {
	return b.lines >= int64(l.maxLines) || len(b.body) >= l.maxBytes
}

func (l *linesEncoder) seal(b *batch) error {
	if len(b.body) == 0 {
		b.reqs = nil // only malformed or blank lines: nothing to send
		return nil
	}
	b.reqs = []request{{path: l.path, contentType: "application/x-ndjson", key: b.key, body: b.body}}
	return nil
}

// rollupEncoder counts rollups per quantum for each target SLO and sends
// them to /api/v1/rollups, one request per SLO.
type rollupEncoder struct {
	targets  []*target
	maxLines int
	log      *slog.Logger
}

func (r *rollupEncoder) newBatch(b *batch) {
	b.targets = r.targets
	b.aggs = make([]*slo.Aggregator, len(r.targets))
	for i, t := range r.targets {
		b.aggs[i] = slo.NewAggregator(&t.sli, t.quantum)
		// Per-status counts let the server judge the minutes again when
		// the SLI is edited, as it does for events.
		b.aggs[i].KeepStatuses()
	}
}

func (r *rollupEncoder) add(b *batch, e *slo.Event) error {
	for _, a := range b.aggs {
		if err := a.Add(e); err != nil {
			return err
		}
	}
	return nil
}

func (r *rollupEncoder) full(b *batch) bool { return b.lines >= int64(r.maxLines) }

// seal builds one request per target SLO. A batch counted under SLIs
// that have been edited since is judged again from its per-status counts,
// as the server judges its stored minutes (exact for a status rule; for a
// new latency threshold, exact but for latencies in the threshold's own
// histogram bin); an SLO added since gets its rollups from the next
// batch on.
func (r *rollupEncoder) seal(b *batch) error {
	if b.series == nil {
		b.series = make([]*slo.Series, len(b.aggs))
		for i, a := range b.aggs {
			b.series[i] = a.Series()
		}
		b.aggs = nil
	}
	b.reqs = b.reqs[:0]
	for _, t := range r.targets {
		i := slices.IndexFunc(b.targets, func(x *target) bool { return x.name == t.name })
		if i < 0 {
			continue
		}
		series := b.series[i]
		if was := b.targets[i]; was.definition != t.definition {
			if err := rejudge(series, was, t); err != nil {
				r.log.Error("nines ship: rollups counted before an edit of the SLO cannot be judged again; they are not sent",
					"slo", t.name, "err", err)
				continue
			}
			b.targets = slices.Clone(b.targets)
			b.targets[i] = t
		}
		if len(series.Rollups) == 0 {
			continue
		}
		key := subKey(b.key, t.name)
		body, err := encodeRollups(t.name, key, series)
		if err != nil {
			return err
		}
		b.reqs = append(b.reqs, request{path: "/api/v1/rollups", contentType: "application/json", key: key, body: body, slo: t.name})
	}
	return nil
}

// rejudge judges series, counted under was, by now's SLI.
func rejudge(series *slo.Series, was, now *target) error {
	if was.quantum != now.quantum {
		return fmt.Errorf("its quantum changed from %s to %s", slo.FormatDuration(was.quantum), slo.FormatDuration(now.quantum))
	}
	sameThreshold := (was.sli.Latency == nil) == (now.sli.Latency == nil) &&
		(was.sli.Latency == nil || *was.sli.Latency == *now.sli.Latency)
	for i := range series.Rollups {
		ro := &series.Rollups[i]
		var err error
		if sameThreshold {
			err = now.sli.RejudgeStatus(ro)
		} else {
			_, err = now.sli.Rejudge(ro)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// subKey is the key of one SLO's request of a batch.
func subKey(key, name string) string {
	h := sha256.Sum256([]byte(name))
	return key + "-" + hex.EncodeToString(h[:6])
}

// encodeRollups writes the rollups of series for the SLO name.
func encodeRollups(name, key string, series *slo.Series) ([]byte, error) {
	body := wire.Rollups{SLO: name, IdempotencyKey: &key, Rollups: make([]wire.Rollup, 0, len(series.Rollups))}
	for i := range series.Rollups {
		body.Rollups = append(body.Rollups, wire.FromRollup(&series.Rollups[i]))
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encoding rollups for %s: %w", name, err)
	}
	return b, nil
}
