// Package ingest turns event files into rollups: nines' JSON lines and
// the access logs of nginx, Apache, Envoy, HAProxy, Caddy, Traefik, AWS
// and Google Cloud load balancers and LTSV, by preset (Presets), by the
// server's own format string (an nginx log_format or an Apache LogFormat,
// compiled into a program), or as JSON with named fields; plain or
// gzip-compressed. Config names a format; NewParser builds its Parser and
// Detect picks one from a log's first lines.
//
// Read streams its input in large blocks cut at line ends and hands them to
// a pool of workers, each folding events into its own slo.Aggregator; the
// aggregators are merged at the end. Memory stays bounded whatever the size
// of the input, and events may come in any time order.
//
// The parsers are written by hand for speed and allocate nothing per good
// line. A line they cannot read is counted and reported with its line
// number and a quote of the offending text; the good lines around it still
// count, unless Options.Strict asks to stop at the first bad one.
//
// Latencies are scaled to seconds on the decimal text, not by multiplying
// floats, so a log's "5" ms or "0.005" s is exactly the float64 that a
// "<=5ms" rule compares against (see slo.ParseSeconds).
package ingest
