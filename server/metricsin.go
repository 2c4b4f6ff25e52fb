package server

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/golang/snappy"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/ingest/otlp"
	"github.com/nines-sre/nines/ingest/promrw"
	"github.com/nines-sre/nines/server/httpx"
)

// remoteWrite takes Prometheus remote write 1.0 (snappy-compressed
// protobuf). Success is 204, as Prometheus expects; a 4xx tells it not to
// retry a request that can never succeed, a 5xx that it may.
func (s *Server) remoteWrite(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if base, err := s.leaderURL(r); err != nil || base != "" {
		s.sendOn(w, r, base, body, err)
		return
	}
	// The decompressed request is held too (snappy names its length
	// up front); promrw refuses one over its limit without decoding it.
	if n, err := snappy.DecodedLen(body); err == nil && n <= promrw.MaxDecodedSize {
		if err := s.charge(r.Context(), int64(n)); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var dec promrw.Decoder
	req, err := dec.Decode(body, r.Header.Get("Content-Encoding"))
	if err != nil {
		s.cfg.Writes.Counters().Reject("remote write: undecodable", 1)
		s.fail(w, r, fmt.Errorf("remote write: %w", err))
		return
	}
	res, err := s.ingestMetrics(r, "remote-write", &req.Batch)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if msg := partial(&req.Batch, res); msg != "" {
		// The valid part is stored; say what was not, without asking for a
		// retry that would only repeat it.
		w.Header().Set("X-Nines-Dropped", msg)
	}
	w.WriteHeader(http.StatusNoContent)
}

// otlpMetrics takes OTLP/HTTP metrics, protobuf or JSON, gzip or not, and
// answers with an empty ExportMetricsServiceResponse in the same encoding.
func (s *Server) otlpMetrics(w http.ResponseWriter, r *http.Request) {
	raw, err := s.readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if base, err := s.leaderURL(r); err != nil || base != "" {
		s.sendOn(w, r, base, raw, err) // as received, still compressed
		return
	}
	body, ct, err := s.otlpPayload(r, raw)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	batch, err := otlp.Decode(body, ct)
	if err != nil {
		s.cfg.Writes.Counters().Reject("otlp: undecodable", 1)
		s.fail(w, r, fmt.Errorf("OTLP: %w", err))
		return
	}
	res, err := s.ingestMetrics(r, "otlp", batch)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if msg := partial(batch, res); msg != "" {
		w.Header().Set("X-Nines-Dropped", msg)
	}
	if strings.HasPrefix(ct, "application/json") {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

// otlpBody reads an OTLP/HTTP request body of any signal, decompressed,
// and its Content-Type.
func (s *Server) otlpBody(r *http.Request) ([]byte, string, error) {
	body, err := s.readBody(r)
	if err != nil {
		return nil, "", err
	}
	return s.otlpPayload(r, body)
}

// otlpPayload decompresses an OTLP body read whole and checks a JSON
// one, returning it with its content type.
func (s *Server) otlpPayload(r *http.Request, body []byte) ([]byte, string, error) {
	var err error
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		if body, err = s.gunzip(r, body); err != nil {
			return nil, "", err
		}
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt == otlp.ContentTypeJSON {
		// protojson is as strict, in words of its own: the rule of every
		// JSON body, said alike.
		if err := checkJSON(body, "OTLP"); err != nil {
			return nil, "", err
		}
	}
	return body, ct, nil
}

// gunzip decompresses an OTLP body up to MaxBody, charging what it
// decompresses to the body budget as it goes.
func (s *Server) gunzip(r *http.Request, body []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, httpx.BadRequest("OTLP: gzip body: %v", err)
	}
	var out bytes.Buffer
	for {
		if err := s.charge(r.Context(), readChunk); err != nil {
			return nil, err
		}
		n, err := io.CopyN(&out, zr, readChunk)
		switch {
		case int64(out.Len()) > s.cfg.MaxBody:
			return nil, httpx.Errorf(http.StatusRequestEntityTooLarge, "OTLP: decompressed body larger than %d bytes", s.cfg.MaxBody)
		case errors.Is(err, io.EOF) || (err == nil && n < readChunk):
			return out.Bytes(), nil
		case err != nil:
			return nil, httpx.BadRequest("OTLP: gzip body: %v", err)
		}
	}
}

func (s *Server) ingestMetrics(r *http.Request, source string, b *metrics.Batch) (*engine.MetricsResult, error) {
	if n := len(b.Series); n > s.cfg.MaxSeries {
		s.cfg.Writes.Counters().Reject(source+": too many series", 1)
		return nil, httpx.Errorf(http.StatusRequestEntityTooLarge, "%s: %d series in one request; at most %d (send smaller batches)", source, n, s.cfg.MaxSeries)
	}
	if b.Dropped > 0 {
		s.cfg.Writes.Counters().Reject(source+": invalid series", int64(b.Dropped))
	}
	res, err := s.cfg.Writes.IngestMetrics(r.Context(), source, b.Series)
	if errors.Is(err, engine.ErrFollower) {
		// A request sent on by another replica that took this one for
		// the leader, or one that came while no replica leads: said
		// whole, for the sender to retry (docs/replicas.md).
		return nil, &httpx.Error{Status: http.StatusServiceUnavailable, Err: err, RetryAfter: time.Second,
			Msg: "this nines replica does not lead now: metric samples are taken by the leader, so that each counter's increase is counted once; retry"}
	}
	return res, err
}

// partial summarises what a request lost: series the decoder refused and
// samples the collector dropped, with the first reason.
func partial(b *metrics.Batch, res *engine.MetricsResult) string {
	var parts []string
	if b.Dropped > 0 {
		first := ""
		if len(b.Problems) > 0 {
			first = ": " + b.Problems[0].Error()
		}
		parts = append(parts, fmt.Sprintf("%d invalid series%s", b.Dropped, first))
	}
	// Series no SLO reads are expected from a Prometheus that sends all it
	// scrapes; they are counted in /metrics but are no loss to report.
	if n := res.Report.Dropped() - res.Report.Count(metrics.UnknownSeries) - res.Report.Count(metrics.Unused); n > 0 {
		first := ""
		if len(res.Report.Problems) > 0 {
			first = ": " + res.Report.Problems[0].Error()
		}
		parts = append(parts, fmt.Sprintf("%d samples dropped%s", n, first))
	}
	for _, st := range res.Stored {
		if st.Late+st.Future > 0 {
			parts = append(parts, fmt.Sprintf("%d late and %d future quanta", st.Late, st.Future))
			break
		}
	}
	return strings.Join(parts, "; ")
}
