package catalog

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// WriteText writes the report for a person: a summary line, the
// bottleneck, notes on checks that could not run, then one line per
// finding as CHECK: SERVICE: message.
func (r *Report) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "%s, %s, %s\n", pluralInt(r.Services, "service"), pluralAs(r.Edges, "dependency", "dependencies"), pluralInt(r.SLOs, "SLO"))
	if bn := r.Bottleneck; bn != nil {
		fmt.Fprintf(b, "bottleneck: %s, %s %% headroom (forecast peak %s rps, tested %s rps)\n",
			bn.Service, strconv.FormatFloat(bn.Headroom*100, 'f', 1, 64), num(bn.ForecastPeakRPS), num(bn.TestedRPS))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(b, "note: %s\n", n)
	}
	if len(r.Findings) == 0 {
		fmt.Fprintln(b, "no findings")
	} else {
		fmt.Fprintf(b, "%s:\n", pluralInt(len(r.Findings), "finding"))
	}
	for _, f := range r.Findings {
		fmt.Fprintf(b, "  %s: %s: %s\n", f.Check, f.Service, f.Message)
	}
	return b.Flush()
}

func pluralAs(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
