package incident

import (
	"errors"
	"strings"
	"testing"
)

func TestSizesOverABoundAreRefused(t *testing.T) {
	entries := func(n, size int) []Entry {
		out := make([]Entry, n)
		for i := range out {
			out[i] = Entry{Text: strings.Repeat("x", size)}
		}
		return out
	}
	for _, c := range []struct {
		name string
		inc  Incident
		want string // "" for within the bounds
	}{
		{"an incident at every bound", Incident{Title: strings.Repeat("t", maxTitle), Summary: strings.Repeat("s", maxSummary),
			Timeline: entries(maxTimelineText/maxEntryText, maxEntryText)}, ""},
		{"a title one byte over", Incident{Title: strings.Repeat("t", maxTitle+1)}, "title bytes of 501"},
		{"a summary over 16 KiB", Incident{Summary: strings.Repeat("s", maxSummary+1)}, "summary bytes"},
		{"one entry over 8 KiB", Incident{Timeline: entries(1, maxEntryText+1)}, "timeline entry 1: text bytes"},
		{"entries that are short but too many", Incident{Timeline: entries(maxEntries+1, 1)}, "timeline entries of 5001"},
		{"entries each within the bound but over 2 MiB together", Incident{Timeline: entries(maxTimelineText/maxEntryText+1, maxEntryText)}, "bytes of timeline text"},
		{"too many links", Incident{Links: make([]Link, maxItems+1)}, "links of 201"},
		{"a long repair owner", Incident{Repairs: []RepairItem{{Title: "x", Owner: strings.Repeat("o", maxName+1)}}}, "repair item owner bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkSizes(&c.inc)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("%v; want ErrInvalid saying %q", err, c.want)
			}
		})
	}
}
