package chaos

import (
	"encoding/json"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// AdminHandler serves a proxy's own admin listener:
//
//	POST /pause    hold new requests (PauseStatus as JSON)
//	POST /resume   release them in arrival order (PauseStatus as JSON)
//	GET  /pause    the PauseStatus
//	GET  /metrics  Prometheus text, or the protobuf exposition (classic
//	               and native histograms) when the scraper asks for it
//
// It has no authentication of its own: bind it to a private address.
func AdminHandler(p *Proxy) http.Handler {
	mux := http.NewServeMux()
	status := func(w http.ResponseWriter, act func(*Pauser)) {
		ps := p.cfg.Pauser
		if ps == nil {
			http.Error(w, "404 not found: this proxy cannot pause: give it a pause queue, a maximum hold and a release rate", http.StatusNotFound)
			return
		}
		if act != nil {
			act(ps)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(ps.Status())
	}
	mux.HandleFunc("POST /pause", func(w http.ResponseWriter, r *http.Request) { status(w, (*Pauser).Pause) })
	mux.HandleFunc("POST /resume", func(w http.ResponseWriter, r *http.Request) { status(w, (*Pauser).Resume) })
	mux.HandleFunc("GET /pause", func(w http.ResponseWriter, r *http.Request) { status(w, nil) })
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		m := p.cfg.Metrics
		if m == nil {
			http.Error(w, "404 not found: "+errNoMetrics.Error(), http.StatusNotFound)
			return
		}
		fams := m.families(p)
		if wantsProtobuf(r.Header.Get("Accept")) {
			w.Header().Set("Content-Type", protoMediaType)
			w.Write(appendProto(nil, fams))
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write([]byte(writeText(fams)))
	})
	return mux
}

const protoMediaType = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"

// wantsProtobuf says whether an Accept header prefers the delimited
// protobuf exposition to text (at least as high a q), as Prometheus asks
// when it scrapes native histograms.
func wantsProtobuf(accept string) bool {
	proto, text := -1.0, -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		switch {
		case mt == "application/vnd.google.protobuf" && params["proto"] == "io.prometheus.client.MetricFamily" && params["encoding"] == "delimited":
			proto = max(proto, q)
		case mt == "text/plain" || mt == "application/openmetrics-text" || mt == "*/*":
			text = max(text, q)
		}
	}
	return proto > 0 && proto >= text
}

// Field numbers of io.prometheus.client's metrics.proto (client_model).
const (
	mfName, mfHelp, mfType, mfMetric              = 1, 2, 3, 4
	mLabel, mGauge, mCounter, mHistogram          = 1, 2, 3, 7
	lpName, lpValue                               = 1, 2
	valueField                                    = 1 // Gauge.value, Counter.value
	hCount, hSum, hBucket                         = 1, 2, 3
	hSchema, hZeroThreshold, hZeroCount           = 5, 6, 7
	hPositiveSpan, hPositiveDelta                 = 12, 13
	bCumulative, bUpperBound                      = 1, 2
	spanOffset, spanLength                        = 1, 2
	typeCounter, typeGauge, typeHistogram         = 0, 1, 4
	nativeZeroThreshold                   float64 = 1.0 / (1 << 31) // below 1 ns: only 0 is in the zero bucket
)

// appendProto appends fams as length-delimited MetricFamily messages.
func appendProto(dst []byte, fams []family) []byte {
	for _, f := range fams {
		var b []byte
		b = protowire.AppendTag(b, mfName, protowire.BytesType)
		b = protowire.AppendString(b, f.name)
		b = protowire.AppendTag(b, mfHelp, protowire.BytesType)
		b = protowire.AppendString(b, f.help)
		typ := map[string]uint64{"counter": typeCounter, "gauge": typeGauge, "histogram": typeHistogram}[f.typ]
		b = protowire.AppendTag(b, mfType, protowire.VarintType)
		b = protowire.AppendVarint(b, typ)
		for _, mt := range f.metrics {
			b = protowire.AppendTag(b, mfMetric, protowire.BytesType)
			b = protowire.AppendBytes(b, appendMetric(nil, typ, mt))
		}
		dst = protowire.AppendBytes(dst, b)
	}
	return dst
}

func appendMetric(b []byte, typ uint64, mt metric) []byte {
	for i := 0; i+1 < len(mt.labels); i += 2 {
		var lp []byte
		lp = protowire.AppendTag(lp, lpName, protowire.BytesType)
		lp = protowire.AppendString(lp, mt.labels[i])
		lp = protowire.AppendTag(lp, lpValue, protowire.BytesType)
		lp = protowire.AppendString(lp, mt.labels[i+1])
		b = protowire.AppendTag(b, mLabel, protowire.BytesType)
		b = protowire.AppendBytes(b, lp)
	}
	var v []byte
	field := protowire.Number(mCounter)
	switch typ {
	case typeHistogram:
		field, v = mHistogram, appendHistogram(nil, mt.hist)
	case typeGauge:
		field = mGauge
		fallthrough
	default:
		v = protowire.AppendTag(v, valueField, protowire.Fixed64Type)
		v = protowire.AppendFixed64(v, math.Float64bits(mt.value))
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// appendHistogram writes both forms in one message, as the Prometheus
// client libraries do: the classic buckets (cumulative, +Inf implied by
// the count) and the native schema-3 buckets as spans of consecutive
// keys with each count a delta from the one before.
func appendHistogram(b []byte, h *histSnap) []byte {
	b = protowire.AppendTag(b, hCount, protowire.VarintType)
	b = protowire.AppendVarint(b, h.count)
	b = protowire.AppendTag(b, hSum, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(h.sum))
	var cum uint64
	for j, ub := range classicBounds {
		cum += h.classic[j]
		var bk []byte
		bk = protowire.AppendTag(bk, bCumulative, protowire.VarintType)
		bk = protowire.AppendVarint(bk, cum)
		bk = protowire.AppendTag(bk, bUpperBound, protowire.Fixed64Type)
		bk = protowire.AppendFixed64(bk, math.Float64bits(ub))
		b = protowire.AppendTag(b, hBucket, protowire.BytesType)
		b = protowire.AppendBytes(b, bk)
	}
	b = protowire.AppendTag(b, hSchema, protowire.VarintType)
	b = protowire.AppendVarint(b, protowire.EncodeZigZag(nativeSchema))
	b = protowire.AppendTag(b, hZeroThreshold, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(nativeZeroThreshold))
	b = protowire.AppendTag(b, hZeroCount, protowire.VarintType)
	b = protowire.AppendVarint(b, h.zero)

	var deltas []byte
	var prev int64
	spans := 0
	end := 0 // key after the last span, as an index into h.native
	for i := 0; i < len(h.native); {
		if h.native[i] == 0 {
			i++
			continue
		}
		start := i
		for i < len(h.native) && h.native[i] != 0 {
			deltas = protowire.AppendVarint(deltas, protowire.EncodeZigZag(int64(h.native[i])-prev))
			prev = int64(h.native[i])
			i++
		}
		offset := start - end // a gap after the previous span
		if spans == 0 {
			offset = start + nativeMin // the first span's key
		}
		b = appendSpan(b, offset, i-start)
		spans++
		end = i
	}
	if spans == 0 {
		// An empty span marks the histogram native even with no
		// observations, as the client libraries do.
		b = appendSpan(b, 0, 0)
	}
	if len(deltas) > 0 {
		b = protowire.AppendTag(b, hPositiveDelta, protowire.BytesType)
		b = protowire.AppendBytes(b, deltas)
	}
	return b
}

func appendSpan(b []byte, offset, length int) []byte {
	var sp []byte
	sp = protowire.AppendTag(sp, spanOffset, protowire.VarintType)
	sp = protowire.AppendVarint(sp, protowire.EncodeZigZag(int64(offset)))
	sp = protowire.AppendTag(sp, spanLength, protowire.VarintType)
	sp = protowire.AppendVarint(sp, uint64(length))
	b = protowire.AppendTag(b, hPositiveSpan, protowire.BytesType)
	return protowire.AppendBytes(b, sp)
}
