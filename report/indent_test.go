package report

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// randomValue builds a JSON value of the kinds a report holds, with the
// strings that make an indenter slip: escaped quotes and backslashes,
// brackets, commas and colons inside strings, HTML characters, empty
// objects and arrays.
func randomValue(r *rand.Rand, depth int) any {
	pieces := []string{`"`, `\`, `\"`, `{`, `}`, `[`, `]`, `,`, `:`, `<a&b>`, "é", "\n", "\t", "\u2028", " ", "x", "\\\\"}
	switch k := r.IntN(8); {
	case depth > 4 || k == 0:
		var b strings.Builder
		for range r.IntN(6) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		return b.String()
	case k == 1:
		return r.NormFloat64() * 1e6
	case k == 2:
		return r.IntN(2) == 0
	case k == 3:
		return nil
	case k < 6:
		m := map[string]any{}
		for range r.IntN(4) {
			m[randomValue(r, 5).(string)] = randomValue(r, depth+1)
		}
		return m
	default:
		s := make([]any, r.IntN(4))
		for i := range s {
			s[i] = randomValue(r, depth+1)
		}
		return s
	}
}

// writeValue writes v through an indenter, as WriteJSON ends a document.
func writeValue(t *testing.T, w io.Writer, v any) {
	t.Helper()
	in := newIndenter(w)
	in.value(v)
	in.dst = append(in.dst, '\n')
	in.flush()
	if in.err != nil {
		t.Fatal(in.err)
	}
}

// encoderJSON is WriteJSON's output as json.Encoder with indenting wrote
// it before: the reference.
func encoderJSON(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestWriteJSONIsTheEncodersOutput(t *testing.T) {
	at := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	win := func(i int) Window {
		start := at.Add(time.Duration(i) * 24 * time.Hour)
		w := Window{
			Start: start, End: start.Add(24 * time.Hour), Complete: i%2 == 0, Availability: Number(math.NaN()),
			Latency: &Latency{QuantilesMS: map[string]Number{"0.5": 3, "0.99": 12.5}, Modes: i},
		}
		for k := range i % 4 { // none, or a few; a window without any marshals null
			w.Violations = append(w.Violations, Span{Start: start.Add(time.Duration(k) * time.Hour), End: start.Add(time.Duration(k)*time.Hour + time.Minute)})
		}
		if i%8 == 4 {
			w.Violations = []Span{}
		}
		return w
	}
	doc := func(name string, windows int) Document {
		d := Document{SLO: name, Input: &Input{File: `a "windows":null.log`, Errors: []string{`line 1: "windows":null`}}}
		for i := range windows {
			d.Windows = append(d.Windows, win(i))
		}
		return d
	}
	for _, tc := range []struct {
		name string
		docs []Document
	}{
		{"One document with a year of windows.", []Document{doc("a", 365)}},
		{"One document without windows.", []Document{doc("a", 0)}},
		{"Two documents.", []Document{doc("a", 3), doc(`b\"`, 1)}},
		{"Two documents with a year of windows.", []Document{doc("a", 365), doc("b", 40)}},
		{"No documents.", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want any = struct {
				SLOs []Document `json:"slos"`
			}{tc.docs}
			if len(tc.docs) == 1 {
				want = tc.docs[0]
			}
			var got bytes.Buffer
			if err := WriteJSON(&got, tc.docs); err != nil {
				t.Fatal(err)
			}
			if w := encoderJSON(t, want); got.String() != w {
				t.Fatalf("WriteJSON differs from the encoder (%d bytes against %d)", got.Len(), len(w))
			}
		})
	}
}

func TestIndenterIsTheEncodersOutput(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	values := []any{
		map[string]any{}, []any{}, "", map[string]any{"a": []any{}, "b": map[string]any{}},
		struct {
			SLOs []Document `json:"slos"`
		}{[]Document{{SLO: "a\"b", Windows: []Window{{Violations: []Span{}}}}}},
	}
	for range 2000 {
		values = append(values, randomValue(r, 0))
	}
	for _, v := range values {
		var want, got bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		writeValue(t, &got, v)
		if got.String() != want.String() {
			t.Fatalf("for %#v:\ngot  %q\nwant %q", v, got.String(), want.String())
		}
	}
}

func TestIndenterFlushesLongDocuments(t *testing.T) {
	long := make([]string, 20000)
	for i := range long {
		long[i] = strings.Repeat("ab\\\"", i%7)
	}
	var want, got bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "  ")
	if err := enc.Encode(long); err != nil {
		t.Fatal(err)
	}
	writeValue(t, &got, long)
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("a %d-byte document differs from the encoder's", want.Len())
	}
}

func TestSpanMarshalsAsItsFields(t *testing.T) {
	type fields struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 29, 1, 59, 59, 123456789, berlin)
	for _, s := range []Span{
		{},
		{Start: at, End: at.Add(time.Hour)},
		{Start: at.UTC(), End: at.In(time.FixedZone("", -(9*3600 + 30*60)))},
		{Start: time.Date(9999, 12, 31, 23, 59, 59, 1, time.UTC), End: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		got, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(fields(s))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	if _, err := json.Marshal(Span{Start: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("a span in the year 10000 marshalled without error, as time.Time refuses")
	}
}

func TestTimeJSONOfWholeUTCSecondsIsTheLibrarys(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	last := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	secs := []int64{0, 1, 59, 86399, 86400, 951782400, 951868799, 4107542400, 4107542399, last, last - 86400}
	for range 100000 {
		secs = append(secs, r.Int64N(last+1))
	}
	for _, sec := range secs {
		at := time.Unix(sec, 0).UTC()
		want, err := at.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendTimeJSON([]byte("x"), at)
		if err != nil || string(got) != "x"+string(want) {
			t.Fatalf("%d: got %s (%v), want x%s", sec, got, err, want)
		}
	}
	for _, at := range []time.Time{time.Unix(-1, 0).UTC(), time.Unix(last+1, 0).UTC(), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)} {
		want, wantErr := at.MarshalJSON()
		got, err := appendTimeJSON(nil, at)
		if (err == nil) != (wantErr == nil) || err == nil && string(got) != string(want) {
			t.Errorf("%v: got %s (%v), want %s (%v)", at, got, err, want, wantErr)
		}
	}
}

// A document whose windows come from a stream reads as the same
// document with them in Windows, as JSON and as text.
func TestStreamedWindowsAreWrittenAlike(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 28, 0, 0, 0, 0, berlin)
	var windows []Window
	for i := range 5 {
		w := Window{Start: start.AddDate(0, 0, i), End: start.AddDate(0, 0, i+1), Met: i%2 == 0, Latency: &Latency{QuantilesMS: map[string]Number{"0.5": 3}}}
		for k := range i * 3 {
			at := w.Start.Add(time.Duration(k) * time.Hour)
			if k%2 == 1 {
				at = at.UTC()
			}
			w.Violations = append(w.Violations, Span{Start: at, End: at.Add(time.Minute)})
		}
		windows = append(windows, w)
	}
	listed := Document{SLO: "a", Windows: windows, zone: berlin}
	streamed := Document{SLO: "a", Windows: []Window{}, zone: berlin, Stream: func(yield func(Window) bool) {
		for _, w := range windows {
			if !yield(w) {
				return
			}
		}
	}}
	for _, docs := range [][2][]Document{{{listed}, {streamed}}, {{listed, listed}, {streamed, streamed}}} {
		for _, write := range []func(io.Writer, []Document) error{WriteJSON, WriteText} {
			var want, got bytes.Buffer
			if err := write(&want, docs[0]); err != nil {
				t.Fatal(err)
			}
			if err := write(&got, docs[1]); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Fatalf("streamed:\n%s\nlisted:\n%s", got.String(), want.String())
			}
		}
	}
	var got bytes.Buffer
	if err := WriteJSON(&got, []Document{streamed}); err != nil {
		t.Fatal(err)
	}
	if want := encoderJSON(t, listed); got.String() != want {
		t.Fatalf("streamed:\n%s\nthe encoder's:\n%s", got.String(), want)
	}
}
