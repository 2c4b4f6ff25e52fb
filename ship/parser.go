package ship

import (
	"errors"
	"math"
	"strconv"

	"github.com/nines-sre/nines/ingest"
	"github.com/nines-sre/nines/slo"
)

// Parser reads one log line, without its line end, into an event: a
// blank line is ingest.ErrEmpty, a malformed one an error, best an
// *ingest.ParseError whose Reason labels the malformed-lines metric.
// *ingest.Parser is one; a Parser is used by one goroutine at a time.
type Parser interface {
	Parse(line []byte) (slo.Event, error)
}

// reasonOf returns the metric label for a malformed line: the
// ParseError's reason, else "other".
func reasonOf(err error) string {
	var pe *ingest.ParseError
	if errors.As(err, &pe) && pe.Reason != "" {
		return pe.Reason
	}
	return "other"
}

// appendEvent appends e as one line of the events API's JSON lines
// (docs/api.md), without its newline. The time is written as Unix seconds
// with nine decimals and the latency as the shortest decimal that reads
// back as the same float64, with its point moved three places for
// milliseconds, so that the server reads exactly the event the parser
// made: a 0.005 s request stays 0.005 s, under a "<=5ms" threshold.
func appendEvent(dst []byte, e *slo.Event) []byte {
	dst = append(dst, `{"time":`...)
	dst = appendUnixNanos(dst, e.Time)
	switch {
	case e.OK == slo.FlagTrue:
		dst = append(dst, `,"ok":true`...)
	case e.OK == slo.FlagFalse:
		dst = append(dst, `,"ok":false`...)
	}
	if e.Status >= 0 && e.Status <= 999 {
		dst = append(dst, `,"status":`...)
		dst = strconv.AppendInt(dst, int64(e.Status), 10)
	}
	if !math.IsNaN(e.Latency) {
		dst = append(dst, `,"latency_ms":`...)
		dst = appendMillis(dst, e.Latency)
	}
	if e.Count != 1 {
		dst = append(dst, `,"count":`...)
		dst = strconv.AppendUint(dst, e.Count, 10)
	}
	return append(dst, '}')
}

// appendUnixNanos writes ns as decimal Unix seconds with nine decimals.
func appendUnixNanos(dst []byte, ns int64) []byte {
	if ns < 0 {
		// Before 1970: the server refuses it as out of range, and
		// says so; written exactly all the same.
		dst = append(dst, '-')
		if ns == math.MinInt64 {
			return append(dst, "9223372036.854775808"...)
		}
		ns = -ns
	}
	dst = strconv.AppendInt(dst, ns/1e9, 10)
	frac := ns % 1e9
	dst = append(dst, '.')
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	return append(dst, digits[:]...)
}

// appendMillis writes sec seconds as milliseconds: the shortest decimal
// of sec (strconv's round-trip digits) with its exponent raised by three.
// Moving a decimal point is exact, so the reader that scales the text
// back to seconds gets sec itself.
func appendMillis(dst []byte, sec float64) []byte {
	var buf [32]byte
	s := strconv.AppendFloat(buf[:0], sec, 'e', -1, 64)
	// s is [-]d[.ddd]e±XX.
	e := len(s) - 1
	for s[e] != 'e' {
		e--
	}
	exp, neg := 0, false
	for _, c := range s[e+1:] {
		switch c {
		case '-':
			neg = true
		case '+':
		default:
			exp = exp*10 + int(c-'0')
		}
	}
	if neg {
		exp = -exp
	}
	dst = append(dst, s[:e]...)
	if exp += 3; exp != 0 {
		dst = append(dst, 'e')
		dst = strconv.AppendInt(dst, int64(exp), 10)
	}
	return dst
}
