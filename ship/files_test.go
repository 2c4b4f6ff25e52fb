package ship

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// drainTracker polls once, then reads every content to its current end
// as the shipper's reading loop does, without polling again, and
// returns the seq of every line read, in order.
func drainTracker(t *testing.T, tr *tracker, poll bool) []int {
	t.Helper()
	if poll {
		tr.poll(time.Now())
	}
	var seqs []int
	for read := true; read; {
		read = false
		for _, e := range tr.sorted() {
			ch, err := tr.read(e)
			if err != nil {
				t.Fatal(err)
			}
			i := bytes.LastIndexByte(ch.data, '\n')
			if i < 0 {
				continue
			}
			read = true
			for line := range bytes.Lines(ch.data[:i+1]) {
				var ev struct {
					Seq int `json:"seq"`
				}
				if err := json.Unmarshal(line, &ev); err != nil || ev.Seq == 0 {
					t.Errorf("%s byte %d: a line read out of place: %q", e.ID, e.Offset, line)
					continue
				}
				seqs = append(seqs, ev.Seq)
			}
			tr.consume(e, i+1)
		}
	}
	return seqs
}

// followedLog is a log of 60 lines followed by a tracker and read to
// its end; read holds the lines' seq.
func followedLog(t *testing.T) (path string, w *logWriter, tr *tracker, read []int) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "access.log")
	w = newLogWriter(t, path)
	tr = newTracker([]string{path + "*"}, &stateDoc{}, false, time.Hour, time.Hour,
		slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	w.write(60)
	if read = drainTracker(t, tr, true); len(read) != 60 {
		t.Fatalf("%d lines read, want 60", len(read))
	}
	return path, w, tr, read
}

// TestTrackerReadsOnlyTheContentItFollows truncates and refills a log
// between the poll that last looked at it and the next read, as
// copytruncate does while the writer goes on: the read must not take
// the new content's bytes for the rest of the old one, or a line of the
// copy is lost and a line of the new content counted twice.
func TestTrackerReadsOnlyTheContentItFollows(t *testing.T) {
	cases := []struct {
		name string
		// refill is how many lines are written into the truncated log
		// before the read: enough to reach past the old offset.
		refill int
		copy   bool
	}{
		{"A log copied, truncated and refilled past the offset read is read on in its copy.", 80, true},
		{"A log copied, truncated and refilled to about the offset read is read on in its copy.", 60, true},
		{"A log truncated without a copy and refilled past the offset read starts a new content.", 80, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, w, tr, got := followedLog(t)
			w.write(5)
			tr.poll(time.Now()) // the poll sees the old content grow
			if tc.copy {
				copyFile(t, path, path+".1")
			}
			truncate(t, path)
			w.write(tc.refill)
			// The read comes before the next poll.
			got = append(got, drainTracker(t, tr, false)...)
			for range 3 {
				got = append(got, drainTracker(t, tr, true)...)
			}
			seen := map[int]int{}
			for _, s := range got {
				seen[s]++
			}
			for s := 1; s <= 65+tc.refill; s++ {
				want := 1
				if !tc.copy && s > 60 && s <= 65 {
					want = 0 // unread when the log was truncated, and no copy holds them
				}
				if seen[s] != want {
					t.Errorf("line %d read %d times, want %d", s, seen[s], want)
				}
			}
		})
	}
}

// TestTrackerRebuildsFromTheContentItFollows rebuilds a pending range
// after its log was copied, truncated and refilled since the last poll,
// as can happen while a restarted shipper starts: the range is read from
// the copy, not from the new content at the same offsets.
func TestTrackerRebuildsFromTheContentItFollows(t *testing.T) {
	path, w, tr, _ := followedLog(t)
	e := tr.sorted()[0]
	end := e.Offset
	copyFile(t, path, path+".1")
	truncate(t, path)
	w.write(80)
	var got []byte
	err := tr.readRange(e, 0, end, func(ch chunk) { got = append(got, ch.data...) })
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(path + ".1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the range was rebuilt from other bytes than the copy's:\n got %.200q\nwant %.200q", got, want)
	}
}
