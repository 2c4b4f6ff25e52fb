package report

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
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

func TestWriteIndentedIsTheEncodersOutput(t *testing.T) {
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
		if err := writeIndented(&got, v); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("for %#v:\ngot  %q\nwant %q", v, got.String(), want.String())
		}
	}
}

func TestWriteIndentedFlushesLongDocuments(t *testing.T) {
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
	if err := writeIndented(&got, long); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("a %d-byte document differs from the encoder's", want.Len())
	}
}
