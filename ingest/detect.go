package ingest

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/nines-sre/nines/slo"
)

// detectLines is how many non-empty lines detection looks at before giving
// up: enough to step over a header or a stray first line, few enough that a
// file in an unknown format fails at once.
const detectLines = 5

// Detect picks the format of a log from its first lines, read with c's
// Fields and Timezone (c.Format is ignored). It returns nil and no error
// when sample holds no non-empty line.
func Detect(sample []byte, c Config) (*Parser, error) { return detect(sample, 1, c) }

// detect picks the format from the first non-empty lines of data, whose
// first line is line number firstLine. It returns nil and no error when
// data holds no non-empty line, so the caller can look at the next block.
//
// A line starting with '{' is JSON lines and one starting with "[YYYY-" is
// Envoy, whether or not the rest parses: those prefixes are unambiguous,
// and a bad first line should be reported as a bad line of its format.
// Anything else is nginx if it parses as nginx.
func detect(data []byte, firstLine int64, c Config) (*Parser, error) {
	var (
		first   []byte
		firstNo int64
		why     *problem
		seen    int
		np      nginxParser
		ev      slo.Event
	)
	for lineNo := firstLine; len(data) > 0 && seen < detectLines; lineNo++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimLeft(bytes.TrimRight(line, "\r"), " \t")
		if len(line) == 0 {
			continue
		}
		switch {
		case line[0] == '{':
			c.Format = "jsonl"
			return NewParser(c)
		case isEnvoyStart(line):
			c.Format = "envoy"
			return NewParser(c)
		}
		p := np.parse(line, &ev)
		if p == nil {
			c.Format = "nginx"
			return NewParser(c)
		}
		if first == nil {
			first, firstNo, why = line, lineNo, p
		}
		seen++
	}
	if first == nil {
		return nil, nil
	}
	return nil, fmt.Errorf("ingest: cannot tell the format from line %s: not jsonl (no '{' first), "+
		"not envoy (no \"[YYYY-\" first), not nginx combined with $request_time (%s); the line starts with %s",
		strconv.FormatInt(firstNo, 10), why.message(), quote(first))
}

// isEnvoyStart reports whether line starts like "[2016-".
func isEnvoyStart(line []byte) bool {
	return len(line) >= 6 && line[0] == '[' && isDigit(line[1]) && isDigit(line[2]) &&
		isDigit(line[3]) && isDigit(line[4]) && line[5] == '-'
}
