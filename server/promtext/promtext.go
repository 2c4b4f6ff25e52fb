// Package promtext writes the Prometheus text exposition format, for the
// /metrics of nines serve and of nines ship.
package promtext

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Exposition builds the Prometheus text format. Families are written in
// the order declared, each with its samples, as the format requires.
type Exposition struct {
	order   []string
	header  map[string]string
	samples map[string][]string
}

// Family declares a metric family: its type (counter, gauge, histogram)
// and help.
// Declaring it again replaces its header and keeps its place.
func (x *Exposition) Family(name, typ, help string) {
	if x.header == nil {
		x.header, x.samples = map[string]string{}, map[string][]string{}
	}
	if _, ok := x.header[name]; !ok {
		x.order = append(x.order, name)
	}
	x.header[name] = fmt.Sprintf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// Sample adds name{labels} value; labels alternate names and values. A
// histogram's name_bucket, name_sum and name_count samples go under its
// family name.
func (x *Exposition) Sample(name string, labels []string, v float64) {
	family := name
	if _, ok := x.header[name]; !ok {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, cut := strings.CutSuffix(name, suffix); cut {
				if _, ok := x.header[base]; ok {
					family = base
				}
			}
		}
	}
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(formatValue(v))
	b.WriteByte('\n')
	x.samples[family] = append(x.samples[family], b.String())
}

// String is the exposition, families in the order first declared.
func (x *Exposition) String() string {
	var b strings.Builder
	for _, name := range x.order {
		b.WriteString(x.header[name])
		for _, s := range x.samples[name] {
			b.WriteString(s)
		}
	}
	return b.String()
}

// escapeLabel escapes a label value as the text format requires.
var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func escapeLabel(v string) string { return labelEscaper.Replace(v) }

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
