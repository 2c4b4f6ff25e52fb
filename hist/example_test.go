package hist_test

import (
	"fmt"
	"time"

	"github.com/nines-sre/nines/hist"
)

// A one-minute latency rollup: how many requests met a 5 ms objective, and
// what the 99th percentile was. Latencies are recorded in seconds.
func Example() {
	var h hist.Histogram // the zero value is ready to use
	for _, d := range []time.Duration{
		800 * time.Microsecond, 1200 * time.Microsecond, 1900 * time.Microsecond,
		2 * time.Millisecond, 3370 * time.Microsecond, 5 * time.Millisecond, 12 * time.Millisecond,
	} {
		if err := h.Insert(d.Seconds()); err != nil {
			fmt.Println(err)
		}
	}
	threshold := (5 * time.Millisecond).Seconds()
	fmt.Printf("requests: %d\n", h.Count())
	fmt.Printf("faster than 5ms: %d (%.2f%%)\n", h.CountBelow(threshold), 100*h.FractionBelow(threshold))
	fmt.Printf("slower than 5ms: %d\n", h.CountAbove(threshold))
	fmt.Printf("p50: %.2fms\n", 1000*h.Quantile(0.5))
	// Output:
	// requests: 7
	// faster than 5ms: 5 (71.43%)
	// slower than 5ms: 1
	// p50: 2.05ms
}

// Histograms from different minutes or hosts merge exactly: the merged
// counts are those of one histogram fed every sample.
func ExampleHistogram_Merge() {
	minute1, minute2 := hist.New(), hist.New()
	_ = minute1.Insert(0.004)
	_ = minute2.Insert(0.004)
	_ = minute2.Insert(0.006)

	day := hist.New()
	day.Merge(minute1)
	day.Merge(minute2)
	for b := range day.Bins() {
		fmt.Printf("[%g, %g): %d\n", b.Lower, b.Upper, b.Count)
	}
	// Output:
	// [0.004, 0.0041): 2
	// [0.006, 0.0061): 1
}

// Thresholds with two significant digits are bin edges, so counts below
// them are exact; other thresholds fall inside a bin.
func ExampleBinBounds() {
	for _, x := range []float64{0.005, 0.0055, 0.00555} {
		lo, hi, _ := hist.BinBounds(x)
		fmt.Printf("%g: bin [%g, %g), edge: %v\n", x, lo, hi, lo == x)
	}
	// Output:
	// 0.005: bin [0.005, 0.0051), edge: true
	// 0.0055: bin [0.0055, 0.0056), edge: true
	// 0.00555: bin [0.0055, 0.0056), edge: false
}

// The encoding is libcircllhist's serialization, which circonusllhist reads too.
func ExampleHistogram_AppendBinary() {
	h := hist.New()
	_ = h.Insert(0.005)
	buf := h.AppendBinary(nil)
	fmt.Printf("% x\n", buf)

	var back hist.Histogram
	if err := back.UnmarshalBinary(buf); err != nil {
		fmt.Println(err)
	}
	fmt.Println(back.Equal(h))
	// Output:
	// 00 01 32 fd 00 01
	// true
}
