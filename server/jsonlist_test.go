package server

import (
	"bytes"
	"encoding/json"
	"testing"
)

// A list written an item at a time is the same bytes as encoding/json's
// indented form of the same map, HTML escaping included.
func TestJSONListIsTheEncodersBytes(t *testing.T) {
	type item struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels,omitempty"`
		Value  float64           `json:"value"`
		Nested []int             `json:"nested"`
	}
	for _, tc := range []struct {
		name  string
		items []item
	}{
		{"no items", []item{}},
		{"one item", []item{{Name: "a", Value: 1.5}}},
		{"several, with nesting and text to escape", []item{
			{Name: "<script>&", Labels: map[string]string{"b": "2", "a": "1"}, Nested: []int{1, 2}},
			{Name: "ü\u2028", Value: -0.25, Nested: []int{}},
			{Name: "c"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(map[string]any{"slos": tc.items}); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := (jsonList[item]{"slos", tc.items}).writeIndentedJSON(&got); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("got\n%s\nwant\n%s", got.String(), want.String())
			}
		})
	}
}
