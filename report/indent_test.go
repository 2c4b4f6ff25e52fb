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
