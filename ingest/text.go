package ingest

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// problem says why a line was not read; parsers return nil for a good
// line. It holds a description and a slice of the line, so that the quoted
// message is only built for the lines whose errors are kept. (A pointer,
// not a value: returning a 40-byte struct from every call of the JSON
// scanner cost a fifth of its time.)
type problem struct {
	what   string // what is wrong, the same for every line with this fault
	detail string // where, appended to what in the message; may be empty
	at     []byte // the offending text, quoted after what; nil if none
}

// message renders the problem, quoting a short prefix of the offending
// text: `status: want an integer 0-999, got "5x3"`.
func (p *problem) message() string {
	switch {
	case p == nil:
		return ""
	case p.at == nil:
		return p.what + p.detail
	}
	return p.what + p.detail + ", got " + quote(p.at)
}

// quoteMax is how much offending text a message shows: enough to find the
// spot, short enough to keep a terminal line readable.
const quoteMax = 48

// quote returns a short, safe rendering of b: ASCII only, control bytes and
// invalid UTF-8 escaped, cut after quoteMax bytes with "..." outside the
// quotes.
func quote(b []byte) string {
	cut := len(b) > quoteMax
	if cut {
		n := quoteMax
		// Do not split a UTF-8 sequence: back up over continuation bytes.
		for k := 0; k < utf8.UTFMax-1 && n > 0 && b[n]&0xC0 == 0x80; k++ {
			n--
		}
		b = b[:n]
	}
	s := strconv.QuoteToASCII(string(b))
	if cut {
		s += "..."
	}
	return s
}

// SWAR constants: one bit or one value in every byte of a uint64.
const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
)

// unusual flags, in the high bit of each of x's bytes, those below 0x20
// (control characters, the newline among them) or above 0x7F (UTF-8
// beyond ASCII): (x - 0x20..) & ^x sets a byte's high bit iff it is below
// 0x20, as long as no lower byte borrowed, so the lowest flag is always
// exact; x's own high bits flag the bytes above 0x7F.
func unusual(x uint64) uint64 { return ((x-lowBits*0x20)&^x | x) & highBits }

// skipPlainWords returns the offset of the first eight-byte word of b at
// or after i that holds a byte below 0x20 or above 0x7F, with that word's
// flags (unusual), or the offset of the last few bytes (under eight) and
// 0: two words at a time while the text is plain, then one.
func skipPlainWords(b []byte, i int) (int, uint64) {
	for i+16 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		y := binary.LittleEndian.Uint64(b[i+8:])
		if unusual(x)|unusual(y) != 0 {
			break
		}
		i += 16
	}
	for i+8 <= len(b) {
		if flags := unusual(binary.LittleEndian.Uint64(b[i:])); flags != 0 {
			return i, flags
		}
		i += 8
	}
	return i, 0
}

// cutPlainLine returns the first line of data, without its "\n" or
// "\r\n", and the data after it, and reports whether the line is plain:
// printable ASCII and tabs only, which checkText would pass. Finding the
// line's end and checking its text is one pass over the bytes, eight at a
// time: apart, they were a sixth of reading a log. A line that is not
// plain is cut all the same, and left to checkText.
func cutPlainLine(data []byte) (line, rest []byte, plain bool) {
	i := 0
	for {
		var flags uint64
		i, flags = skipPlainWords(data, i)
		if flags != 0 {
			i += bits.TrailingZeros64(flags) >> 3
		} else {
			for i < len(data) && data[i] >= 0x20 && data[i] < utf8.RuneSelf {
				i++
			}
			if i == len(data) {
				return data, nil, true
			}
		}
		switch data[i] {
		case '\t':
			i++
			continue
		case '\n':
			return data[:i], data[i+1:], true
		case '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				return data[:i], data[i+2:], true
			}
		}
		break
	}
	line, rest = data, nil
	if j := bytes.IndexByte(data[i:], '\n'); j >= 0 {
		line, rest = data[:i+j], data[i+j+1:]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest, false
}

// checkText returns a problem if line holds control characters (other than
// tab) or invalid UTF-8: binary junk or a corrupt file, not a log line. The
// check runs on every line, so it tests eight bytes at a time and only looks
// closer at words holding a byte below 0x20 or above 0x7F.
func checkText(line []byte) *problem {
	i := 0
	for {
		i, _ = skipPlainWords(line, i)
		if i >= len(line) {
			return nil
		}
		// Look closer at one byte (or rune), then go back to words.
		c := line[i]
		switch {
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(line[i:])
			if r == utf8.RuneError && n == 1 {
				return &problem{"invalid UTF-8", " at byte " + strconv.Itoa(i+1), line[max(0, i-8):]}
			}
			i += n
		case c < 0x20 && c != '\t':
			return &problem{"control character (binary data?)", " at byte " + strconv.Itoa(i+1), line[max(0, i-8):]}
		default:
			i++
		}
	}
}

// isBlank reports whether line holds nothing but spaces and tabs.
func isBlank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}
