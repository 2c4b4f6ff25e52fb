package ingest

// Timestamps are parsed by hand: time.Parse costs several hundred
// nanoseconds per call, more than all the rest of a log line, and the
// layouts here are fixed.

// maxUnixSeconds bounds the seconds whose nanoseconds fit an int64
// (years 1678 to 2262).
const maxUnixSeconds = 9223372035

// daysFromCivil returns the days from 1970-01-01 to the given proleptic
// Gregorian date (Howard Hinnant's algorithm; exact for all years here).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12 // March is 0, so the leap day ends the year
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

var monthDays = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// validDate reports whether y-m-d exists.
func validDate(y, m, d int) bool {
	if m < 1 || m > 12 || d < 1 || d > monthDays[m] {
		return false
	}
	if m == 2 && d == 29 {
		return y%4 == 0 && (y%100 != 0 || y%400 == 0)
	}
	return true
}

// digits2 and digits4 read fixed-width decimal fields; -1 means not digits.
func digits2(b []byte) int {
	a, c := b[0]-'0', b[1]-'0'
	if a > 9 || c > 9 {
		return -1
	}
	return int(a)*10 + int(c)
}

func digits4(b []byte) int {
	h, l := digits2(b), digits2(b[2:])
	if h < 0 || l < 0 {
		return -1
	}
	return h*100 + l
}

// toNanos combines a civil date and time with an offset east of UTC in
// seconds; ok is false outside the int64 nanosecond range.
func toNanos(y, mo, d, h, mi, s, offset int, frac int64) (int64, bool) {
	secs := daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+s-offset)
	if secs >= maxUnixSeconds || secs <= -maxUnixSeconds {
		return 0, false
	}
	return secs*1e9 + frac, true
}

// parseRFC3339 reads "2026-11-24T10:20:31.123Z" or with an offset
// ("+01:00", also "+0100") into Unix nanoseconds. The date and time may be
// separated by 'T', 't' or a space (RFC 3339 section 5.6 allows the space);
// fractions finer than a nanosecond are truncated. A time without an offset
// is refused: guessing a zone would shift every quantum.
func parseRFC3339(b []byte) (int64, string) {
	const layoutErr = "time: want RFC 3339 like 2026-11-24T10:20:31.5Z"
	if len(b) < len("2006-01-02T15:04:05") {
		return 0, layoutErr
	}
	y, mo, d := digits4(b), digits2(b[5:]), digits2(b[8:])
	h, mi, s := digits2(b[11:]), digits2(b[14:]), digits2(b[17:])
	if y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0 ||
		b[4] != '-' || b[7] != '-' || b[13] != ':' || b[16] != ':' ||
		(b[10] != 'T' && b[10] != 't' && b[10] != ' ') {
		return 0, layoutErr
	}
	if !validDate(y, mo, d) {
		return 0, "time: no such date"
	}
	if h > 23 || mi > 59 || s > 59 {
		return 0, "time: hour, minute or second out of range"
	}
	i := 19
	var frac int64
	if i < len(b) && (b[i] == '.' || b[i] == ',') {
		i++
		n := 0
		for i < len(b) && isDigit(b[i]) {
			if n < 9 {
				frac = frac*10 + int64(b[i]-'0')
			}
			n++
			i++
		}
		if n == 0 {
			return 0, layoutErr
		}
		for ; n < 9; n++ {
			frac *= 10
		}
	}
	if i >= len(b) {
		return 0, "time: no UTC offset (want Z or ±hh:mm)"
	}
	offset := 0
	switch c := b[i]; c {
	case 'Z', 'z':
		i++
	case '+', '-':
		rest := b[i+1:]
		var oh, om int
		switch {
		case len(rest) == 5 && rest[2] == ':':
			oh, om = digits2(rest), digits2(rest[3:])
		case len(rest) == 4:
			oh, om = digits2(rest), digits2(rest[2:])
		default:
			return 0, layoutErr
		}
		if oh < 0 || om < 0 || oh > 23 || om > 59 {
			return 0, "time: bad UTC offset"
		}
		offset = oh*3600 + om*60
		if c == '-' {
			offset = -offset
		}
		i = len(b)
	default:
		return 0, "time: no UTC offset (want Z or ±hh:mm)"
	}
	if i != len(b) {
		return 0, layoutErr
	}
	ns, ok := toNanos(y, mo, d, h, mi, s, offset, frac)
	if !ok {
		return 0, "time: out of range (years 1678-2262)"
	}
	return ns, ""
}

// monthIndex maps the English three-letter month names that nginx writes
// to 1-12, or 0.
func monthIndex(b []byte) int {
	switch string(b) {
	case "Jan":
		return 1
	case "Feb":
		return 2
	case "Mar":
		return 3
	case "Apr":
		return 4
	case "May":
		return 5
	case "Jun":
		return 6
	case "Jul":
		return 7
	case "Aug":
		return 8
	case "Sep":
		return 9
	case "Oct":
		return 10
	case "Nov":
		return 11
	case "Dec":
		return 12
	}
	return 0
}

// timeLocalLen is the length of nginx's $time_local, "24/Nov/2026:10:20:31 +0000".
const timeLocalLen = 26

// timeLocalCache remembers the last $time_local parsed. Requests logged in
// the same second share the whole text, and a busy log writes hundreds of
// lines per second, so most lines cost one 26-byte comparison.
type timeLocalCache struct {
	key   [timeLocalLen]byte
	ns    int64
	day   int64 // ns less the time of day of key: the start of its day in its offset
	valid bool
}

// parse reads a $time_local of exactly timeLocalLen bytes.
func (c *timeLocalCache) parse(b []byte) (int64, string) {
	if len(b) != timeLocalLen {
		return parseTimeLocal(b)
	}
	if c.valid {
		if string(b) == string(c.key[:]) {
			return c.ns, ""
		}
		// A sparse log changes second on every line but keeps its date
		// and offset: then only the time of day is new.
		if string(b[:12]) == string(c.key[:12]) && string(b[20:]) == string(c.key[20:]) && b[14] == ':' && b[17] == ':' {
			if sec, ok := secondOfDay(b); ok {
				c.ns = c.day + sec*1e9
				copy(c.key[:], b)
				return c.ns, ""
			}
		}
	}
	ns, msg := parseTimeLocal(b)
	if msg == "" {
		copy(c.key[:], b)
		sec, _ := secondOfDay(b)
		c.ns, c.day, c.valid = ns, ns-sec*1e9, true
	}
	return ns, msg
}

// secondOfDay reads the hh:mm:ss of a $time_local, checked for range.
func secondOfDay(b []byte) (int64, bool) {
	h, mi, s := digits2(b[12:]), digits2(b[15:]), digits2(b[18:])
	if h < 0 || mi < 0 || s < 0 || h > 23 || mi > 59 || s > 59 {
		return 0, false
	}
	return int64(h*3600 + mi*60 + s), true
}

func parseTimeLocal(b []byte) (int64, string) {
	const layoutErr = "time_local: want 24/Nov/2026:10:20:31 +0000"
	if len(b) != timeLocalLen || b[2] != '/' || b[6] != '/' || b[11] != ':' ||
		b[14] != ':' || b[17] != ':' || b[20] != ' ' || (b[21] != '+' && b[21] != '-') {
		return 0, layoutErr
	}
	d, mo, y := digits2(b), monthIndex(b[3:6]), digits4(b[7:])
	h, mi, s := digits2(b[12:]), digits2(b[15:]), digits2(b[18:])
	oh, om := digits2(b[22:]), digits2(b[24:])
	if d < 0 || mo == 0 || y < 0 || h < 0 || mi < 0 || s < 0 || oh < 0 || om < 0 {
		return 0, layoutErr
	}
	if !validDate(y, mo, d) {
		return 0, "time_local: no such date"
	}
	if h > 23 || mi > 59 || s > 59 || oh > 23 || om > 59 {
		return 0, "time_local: hour, minute, second or offset out of range"
	}
	offset := oh*3600 + om*60
	if b[21] == '-' {
		offset = -offset
	}
	ns, ok := toNanos(y, mo, d, h, mi, s, offset, 0)
	if !ok {
		return 0, "time_local: out of range (years 1678-2262)"
	}
	return ns, ""
}
