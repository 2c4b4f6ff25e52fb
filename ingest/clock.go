package ingest

import (
	"fmt"
	"strings"
	"time"
)

// clock collects the parts of a timestamp that a format writes in pieces
// (Apache's [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t]) until the line is read.
type clock struct {
	y, mo, d, h, mi, s int
	frac               int64 // nanoseconds
	off                int   // seconds east of UTC
	hasOff             bool
	unix               int64 // Unix nanoseconds from %s, sec, msec or usec
	hasUnix            bool
}

// nanos turns the collected parts into Unix nanoseconds, reading a time
// without offset in zone (nil: the layout was refused at compile time
// unless it holds an offset). cache remembers the offset of the last local
// minute, because zone lookups cost more than the rest of a line.
func (c *clock) nanos(zone *time.Location, cache *zoneCache) (int64, string) {
	if c.hasUnix {
		return c.unix + c.frac, ""
	}
	if !validDate(c.y, c.mo, c.d) {
		return 0, "time: no such date"
	}
	if c.h > 23 || c.mi > 59 || c.s > 60 {
		return 0, "time: hour, minute or second out of range"
	}
	if c.s == 60 {
		// A leap second, as strftime may write it: it is the last
		// instant of its minute for every rollup.
		c.s, c.frac = 59, 999_999_999
	}
	off := c.off
	if !c.hasOff {
		if zone == nil {
			return 0, "time: no UTC offset and no time zone given"
		}
		off = cache.offset(zone, c.y, c.mo, c.d, c.h, c.mi)
	}
	ns, ok := toNanos(c.y, c.mo, c.d, c.h, c.mi, c.s, off, c.frac)
	if !ok {
		return 0, "time: out of range (years 1678-2262)"
	}
	return ns, ""
}

// zoneCache remembers the UTC offset of one local minute in one zone.
// Offsets change on minute boundaries at the finest (some zones shift by
// 30 or 45 minutes), so a minute's offset holds for all of it. In the hour
// a zone repeats when clocks go back, the offset time.Date picks is used
// for the whole hour: the log does not say which of the two it meant.
type zoneCache struct {
	key   [5]int
	off   int
	valid bool
}

func (z *zoneCache) offset(zone *time.Location, y, mo, d, h, mi int) int {
	k := [5]int{y, mo, d, h, mi}
	if z.valid && k == z.key {
		return z.off
	}
	_, off := time.Date(y, time.Month(mo), d, h, mi, 0, 0, zone).Zone()
	z.key, z.off, z.valid = k, off, true
	return off
}

// layoutOp is one step of a compiled strftime layout.
type layoutOp struct {
	lit string // literal text, when conv is 0
	// conv is the conversion letter: Y m d e b H M S y z s, or 'f' for
	// a fraction of a second (Apache's msec_frac and usec_frac, with
	// digits giving its width).
	conv   byte
	digits int
}

// timeLayout is a compiled strftime format, as Apache's %{...}t writes
// times. It covers the conversions access logs use; a layout with others
// is refused when the format is compiled, with the column.
type timeLayout struct {
	ops []layoutOp
	// what the layout sets, to check that a format's time parts together
	// make a time
	date, clock, offset, unix, frac bool
}

// compileLayout reads a strftime layout. col is the column of its first
// byte in the format string, for messages.
func compileLayout(s string, col int) (*timeLayout, error) {
	l := &timeLayout{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			l.ops = append(l.ops, layoutOp{lit: lit.String()})
			lit.Reset()
		}
	}
	conv := func(c byte) {
		flush()
		l.ops = append(l.ops, layoutOp{conv: c})
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			lit.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("column %d: %% at the end of the time format %q", col+i, s)
		}
		i++
		switch c := s[i]; c {
		case '%':
			lit.WriteByte('%')
		case 'Y', 'm', 'd', 'e', 'b', 'h', 'y':
			if c == 'h' {
				c = 'b'
			}
			conv(c)
			l.date = true
		case 'H', 'M', 'S':
			conv(c)
			l.clock = true
		case 'T':
			conv('H')
			lit.WriteByte(':')
			conv('M')
			lit.WriteByte(':')
			conv('S')
			l.clock = true
		case 'R':
			conv('H')
			lit.WriteByte(':')
			conv('M')
			l.clock = true
		case 'F':
			conv('Y')
			lit.WriteByte('-')
			conv('m')
			lit.WriteByte('-')
			conv('d')
			l.date = true
		case 'D':
			conv('m')
			lit.WriteByte('/')
			conv('d')
			lit.WriteByte('/')
			conv('y')
			l.date = true
		case 'z':
			conv('z')
			l.offset = true
		case 's':
			conv('s')
			l.unix = true
		case 'a', 'A':
			// A weekday name says nothing the date does not.
			conv('a')
		default:
			return nil, fmt.Errorf("column %d: %%%c is not a time conversion nines reads (use %%Y %%m %%d %%b %%H %%M %%S %%T %%F %%z or %%s)", col+i-1, c)
		}
	}
	flush()
	return l, nil
}

// parse reads the layout from b[i:] into c and returns the index after it.
func (l *timeLayout) parse(b []byte, i int, c *clock) (int, string) {
	const bad = "time: does not match the format's time layout"
	for _, op := range l.ops {
		if op.conv == 0 {
			if len(b)-i < len(op.lit) || string(b[i:i+len(op.lit)]) != op.lit {
				return i, bad
			}
			i += len(op.lit)
			continue
		}
		switch op.conv {
		case 'Y':
			if len(b)-i < 4 {
				return i, bad
			}
			if c.y = digits4(b[i:]); c.y < 0 {
				return i, bad
			}
			i += 4
		case 'y':
			if len(b)-i < 2 {
				return i, bad
			}
			v := digits2(b[i:])
			if v < 0 {
				return i, bad
			}
			// POSIX: 69-99 are 1969-1999, 00-68 are 2000-2068.
			if v < 69 {
				c.y = 2000 + v
			} else {
				c.y = 1900 + v
			}
			i += 2
		case 'm', 'd', 'e', 'H', 'M', 'S':
			if len(b)-i < 2 {
				return i, bad
			}
			p := b[i:]
			if op.conv == 'e' && p[0] == ' ' {
				p = []byte{'0', p[1]}
			}
			v := digits2(p)
			if v < 0 {
				return i, bad
			}
			switch op.conv {
			case 'm':
				c.mo = v
			case 'd', 'e':
				c.d = v
			case 'H':
				c.h = v
			case 'M':
				c.mi = v
			case 'S':
				c.s = v
			}
			i += 2
		case 'b':
			if len(b)-i < 3 {
				return i, bad
			}
			if c.mo = monthIndex(b[i : i+3]); c.mo == 0 {
				return i, bad
			}
			i += 3
		case 'a':
			j := i
			for j < len(b) && (b[j]|0x20 >= 'a' && b[j]|0x20 <= 'z') {
				j++
			}
			if j == i {
				return i, bad
			}
			i = j
		case 'z':
			if len(b)-i < 5 || (b[i] != '+' && b[i] != '-') {
				return i, bad
			}
			oh, om := digits2(b[i+1:]), digits2(b[i+3:])
			if oh < 0 || om < 0 || oh > 23 || om > 59 {
				return i, "time: bad UTC offset"
			}
			c.off = oh*3600 + om*60
			if b[i] == '-' {
				c.off = -c.off
			}
			c.hasOff = true
			i += 5
		case 's':
			j := i
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			v, ok := parseUint(b[i:j], maxUnixSeconds)
			if !ok {
				return i, "time: want Unix seconds"
			}
			c.unix, c.hasUnix = int64(v)*1e9, true
			i = j
		}
	}
	return i, ""
}
