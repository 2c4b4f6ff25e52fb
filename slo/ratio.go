package slo

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// Ratio is a share between 0 and 1 kept as an exact decimal fraction
// Num/Den, Den a power of ten. Objectives are ratios so that "was 999 of
// 1,000 good enough for 99.9 %?" is answered with integers, never with a
// float that happens to land one ulp short.
type Ratio struct {
	Num, Den uint64
}

// maxPercentDecimals bounds the digits after the point of a percentage:
// 99.9999999 % (seven nines after the point) is far past any real SLO and
// keeps Den × counts inside 128 bits.
const maxPercentDecimals = 7

// ParsePercent reads a percentage written in decimal ("99.9", "99.95",
// "99") into a Ratio. It accepts values strictly between 0 and 100: an
// objective of 100 % leaves no error budget, and 0 % promises nothing.
func ParsePercent(s string) (Ratio, error) {
	t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	if t == "" {
		return Ratio{}, errors.New("empty percentage")
	}
	intPart, frac, hasPoint := strings.Cut(t, ".")
	if intPart == "" || (hasPoint && frac == "") || !allDigits(intPart) || !allDigits(frac) {
		return Ratio{}, fmt.Errorf("percentage %q: want a decimal number such as 99.9", s)
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > maxPercentDecimals {
		return Ratio{}, fmt.Errorf("percentage %q: at most %d digits after the point", s, maxPercentDecimals)
	}
	if len(intPart) > 3 {
		return Ratio{}, fmt.Errorf("percentage %q: must be below 100", s)
	}
	num, err := strconv.ParseUint(intPart+frac, 10, 64)
	if err != nil {
		return Ratio{}, fmt.Errorf("percentage %q: %w", s, err)
	}
	den := uint64(100)
	for range len(frac) {
		den *= 10
	}
	r := Ratio{Num: num, Den: den}
	switch {
	case num == 0:
		return Ratio{}, fmt.Errorf("percentage %q: must be above 0", s)
	case num >= den:
		return Ratio{}, fmt.Errorf("percentage %q: must be below 100 (100 %% leaves no error budget)", s)
	}
	return r, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Float returns the ratio as a share between 0 and 1.
func (r Ratio) Float() float64 {
	if r.Den == 0 {
		return 0
	}
	return float64(r.Num) / float64(r.Den)
}

// Percent returns the ratio in percent.
func (r Ratio) Percent() float64 { return r.Float() * 100 }

// Complement is the share allowed to fail: the error budget as a fraction.
func (r Ratio) Complement() float64 {
	if r.Den == 0 {
		return 0
	}
	return float64(r.Den-r.Num) / float64(r.Den)
}

// String writes the ratio as the percentage it was parsed from.
func (r Ratio) String() string {
	if r.Den == 0 {
		return "0"
	}
	return strconv.FormatFloat(r.Percent(), 'f', -1, 64)
}

// IsZero reports whether r was never set.
func (r Ratio) IsZero() bool { return r.Den == 0 }

// Meets reports whether good out of total reaches the ratio exactly:
// good/total ≥ Num/Den, compared as good·Den ≥ Num·total in 128 bits.
// An empty total meets any ratio: nothing was attempted, nothing failed.
func (r Ratio) Meets(good, total uint64) bool {
	if total == 0 {
		return true
	}
	hiL, loL := bits.Mul64(good, r.Den)
	hiR, loR := bits.Mul64(r.Num, total)
	return hiL > hiR || (hiL == hiR && loL >= loR)
}

// WithinBudget reports whether bad out of total stays inside the budget the
// ratio allows: bad/total ≤ 1 − Num/Den, compared exactly.
func (r Ratio) WithinBudget(bad, total uint64) bool {
	if bad > total {
		return false
	}
	return r.Meets(total-bad, total)
}
