package ingest

import (
	"math"
	"strconv"
)

// decimal is a number as written in the log: ±mant × 10^exp. Keeping the
// decimal exponent apart from the digits lets a unit change (milliseconds to
// seconds) move the decimal point exactly, so that only the final
// conversion to float64 rounds, once, correctly.
type decimal struct {
	mant uint64
	exp  int // power of ten of mant's last digit
	neg  bool
	// inexact is set when non-zero digits were dropped because mant holds
	// at most 19 of them; text and rawExp then serve the slow path.
	inexact bool
	nd      int // significant digits in mant
	rawExp  int // the exponent written after 'e', clamped
	mantEnd int // length of the text before the exponent
	text    []byte
}

// maxMantDigits is how many significant digits fit in a uint64 for sure.
const maxMantDigits = 19

// maxExpText bounds the exponent read from text; anything beyond it is 0 or
// ±Inf anyway, and the clamp keeps the arithmetic from overflowing.
const maxExpText = 100000

// scanNumber reads a JSON number starting at b[i] into d (which must be
// zero) and returns the index just past it. ok is false when the text at
// i is not a number by JSON's grammar (which also covers nginx's and
// Envoy's plain decimals). d is filled in place: the struct is large, and
// returning it by value showed in profiles.
func scanNumber(b []byte, i int, d *decimal) (end int, ok bool) {
	start := i
	if i < len(b) && b[i] == '-' {
		d.neg = true
		i++
	}
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		for i < len(b) && isDigit(b[i]) {
			d.addDigit(b[i], false)
			i++
		}
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			d.addDigit(b[i], true)
			i++
		}
	}
	d.mantEnd = i - start
	if i < len(b) && b[i]|0x20 == 'e' {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		e := 0
		for i < len(b) && isDigit(b[i]) {
			if e < maxExpText {
				e = e*10 + int(b[i]-'0')
			}
			i++
		}
		if eneg {
			e = -e
		}
		d.rawExp = e
		d.exp += e
	}
	d.text = b[start:i]
	return i, true
}

// addDigit appends one digit to the mantissa, or drops it and remembers
// whether that lost anything once the mantissa is full.
func (d *decimal) addDigit(c byte, frac bool) {
	v := uint64(c - '0')
	switch {
	case d.nd == 0 && v == 0:
		// A leading zero only shifts the point: 0.004 is 4 × 10^-3.
		if frac {
			d.exp--
		}
	case d.nd < maxMantDigits:
		d.mant = d.mant*10 + v
		d.nd++
		if frac {
			d.exp--
		}
	default:
		if !frac {
			d.exp++
		}
		if v != 0 {
			d.inexact = true
		}
	}
}

// isZero reports whether the number is zero (of either sign).
func (d *decimal) isZero() bool { return d.mant == 0 && !d.inexact }

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
}

// float returns the value × 10^scale as the nearest float64, exactly as
// strconv.ParseFloat would for the decimal text with its point moved by
// scale places. Negative zero comes back as zero.
//
// The fast path is Clinger's: when the mantissa is below 2^53 and the
// power of ten at most 22, both are exact float64s and one IEEE division
// or multiplication rounds correctly. Log latencies ("0.004", "226",
// "3.2") always take it.
func (d *decimal) float(scale int) float64 {
	if d.isZero() {
		return 0
	}
	e := d.exp + scale
	if !d.inexact && d.mant < 1<<53 && e >= -22 && e <= 22 {
		f := float64(d.mant)
		if e < 0 {
			f /= pow10[-e]
		} else {
			f *= pow10[e]
		}
		if d.neg {
			f = -f
		}
		return f
	}
	return d.floatSlow(scale)
}

// floatSlow hands the text, with its exponent adjusted by scale, to
// strconv.ParseFloat. It allocates, which is fine for numbers with more
// than 15 significant digits or extreme exponents.
func (d *decimal) floatSlow(scale int) float64 {
	var buf [64]byte
	s := append(buf[:0], d.text[:d.mantEnd]...)
	s = append(s, 'e')
	s = strconv.AppendInt(s, int64(d.rawExp+scale), 10)
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil && !math.IsInf(f, 0) {
		// Only range errors are possible on text scanNumber accepted;
		// report anything else as unusable rather than guess.
		return math.NaN()
	}
	if f == 0 {
		return 0
	}
	return f
}

// unixNanos returns the number read as Unix seconds in nanoseconds,
// truncating digits finer than a nanosecond, and ok false when it does not
// fit an int64.
func (d *decimal) unixNanos() (int64, bool) { return d.nanos(0) }

// nanos returns the number, in units of 10^scale seconds, in nanoseconds,
// truncating digits finer than a nanosecond; ok is false when it does not
// fit an int64.
func (d *decimal) nanos(scale int) (int64, bool) {
	if d.mant == 0 {
		return 0, true
	}
	e := d.exp + scale + 9
	v := d.mant
	switch {
	case e < 0:
		if e < -maxMantDigits {
			return 0, true
		}
		for ; e < 0; e++ {
			v /= 10
		}
	default:
		for ; e > 0; e-- {
			if v > math.MaxInt64/10 {
				return 0, false
			}
			v *= 10
		}
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	if d.neg {
		return -int64(v), true
	}
	return int64(v), true
}

// parseUint reads a run of ASCII digits, rejecting anything else, an empty
// run and values above max.
func parseUint(b []byte, max uint64) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (max-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

func isDigit(c byte) bool { return c-'0' < 10 }
