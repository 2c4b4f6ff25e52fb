package ingest

import (
	"bytes"
	"testing"
)

// referenceCut is what the reader did before cutPlainLine: the line up to
// the first newline, one "\r" before it trimmed, then checkText.
func referenceCut(data []byte) (line, rest []byte, textOK bool) {
	line, rest = data, nil
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		line, rest = data[:i], data[i+1:]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest, checkText(line) == nil
}

// checkCut holds cutPlainLine to the reference: the same line and rest,
// and plain only for a line checkText passes.
func checkCut(t *testing.T, data []byte) (plain bool) {
	t.Helper()
	line, rest, plain := cutPlainLine(data)
	wantLine, wantRest, textOK := referenceCut(data)
	if !bytes.Equal(line, wantLine) || !bytes.Equal(rest, wantRest) || (rest == nil) != (wantRest == nil) {
		t.Fatalf("cutPlainLine(%q) = %q, %q; want %q, %q", data, line, rest, wantLine, wantRest)
	}
	if plain && !textOK {
		t.Fatalf("cutPlainLine(%q) says plain, checkText refuses %q", data, line)
	}
	return plain
}

func TestCutPlainLine(t *testing.T) {
	long := string(bytes.Repeat([]byte("0123456789abcdef"), 5))
	for _, c := range []struct {
		data  string
		plain bool
	}{
		{"", true},
		{"\n", true},
		{"a", true},
		{"a\nb", true},
		{long + "\n" + long, true},
		{long + "\r\n" + long, true},
		{long + "\r", false}, // the last line, no newline: trimmed, left to checkText
		{long[:13] + "\t" + long + "\n", true},
		{long[:21] + "\r" + long + "\n", false},
		{long[:5] + "\x00" + long + "\n", false},
		{long[:40] + "é" + long + "\nx", false},
		{long[:40] + "\xff" + long + "\nx", false},
		{long[:7] + "\x7f\n", true}, // DEL is not below 0x20: checkText lets it by too
		{"\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n", true},
	} {
		if got := checkCut(t, []byte(c.data)); got != c.plain {
			t.Errorf("cutPlainLine(%q): plain %v, want %v", c.data, got, c.plain)
		}
	}
}

func FuzzCutPlainLine(f *testing.F) {
	for _, s := range append(append([]string{"a\r\nb", "\r", "x\ty\n", "é\n", "\xff\n"}, nginxSeeds...), jsonlSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for len(data) > 0 {
			checkCut(t, data)
			_, data, _ = cutPlainLine(data)
		}
	})
}
