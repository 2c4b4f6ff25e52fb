// Package tcp is nines' fault proxy for everything that is not HTTP
// (databases, caches, queues): a TCP proxy whose faults ("toxics") and
// proxies are driven through Toxiproxy's REST API, so the Toxiproxy clients
// teams already use drive it unchanged.
//
// The toxics keep Toxiproxy's meaning (github.com/Shopify/toxiproxy,
// toxics/*.go): each applies to one direction of a connection (upstream is
// client to server, downstream server to client), toxics on a direction
// chain in the order they were added, and toxicity is the probability that
// a toxic applies to a given connection, drawn once per connection when the
// connection opens or the toxic is added or updated.
package tcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what the API stores. They keep a misbehaving client from
// growing the server without bound; each is far above real use.
const (
	MaxNameBytes      = 200
	MaxAddrBytes      = 255
	MaxProxies        = 1000
	MaxToxicsPerProxy = 32
	// maxMillis bounds every duration attribute: one hour of latency or
	// timeout is already a dead dependency, so longer asks are a typo.
	maxMillis = 3_600_000
	// maxSlicerDelayMicros bounds the slicer's pause between pieces (one minute).
	maxSlicerDelayMicros = 60_000_000
	maxRateKBps          = 10_000_000     // 10 GB/s, above any link this proxy forwards
	maxLimitBytes        = int64(1) << 40 // 1 TiB
	maxSliceSize         = 1 << 20
)

// Direction is the side of a connection a toxic acts on.
type Direction int

const (
	Upstream   Direction = iota // client to server
	Downstream                  // server to client
	numDirections
)

func (d Direction) String() string {
	if d == Upstream {
		return "upstream"
	}
	return "downstream"
}

// parseDirection accepts Toxiproxy's stream names, case-insensitively as it does.
func parseDirection(s string) (Direction, error) {
	switch strings.ToLower(s) {
	case "upstream":
		return Upstream, nil
	case "downstream":
		return Downstream, nil
	}
	return 0, errInvalidStream
}

// Attributes are a toxic's settings with Toxiproxy's names and units.
// Only the fields of the toxic's type are meaningful; the others stay zero.
type Attributes struct {
	Latency       int64 // latency: ms added to every chunk
	Jitter        int64 // latency: ± ms drawn uniformly per chunk
	Rate          int64 // bandwidth: KB/s
	Delay         int64 // slow_close: ms before close; slicer: µs between pieces
	Timeout       int64 // timeout, reset_peer: ms
	AverageSize   int64 // slicer: bytes
	SizeVariation int64 // slicer: bytes
	Bytes         int64 // limit_data: bytes
}

// attrSpec names one attribute of a toxic type with its allowed range.
type attrSpec struct {
	name     string
	min, max int64
	field    func(*Attributes) *int64
}

var toxicTypes = map[string][]attrSpec{
	"latency": {
		{"latency", 0, maxMillis, func(a *Attributes) *int64 { return &a.Latency }},
		{"jitter", 0, maxMillis, func(a *Attributes) *int64 { return &a.Jitter }},
	},
	"bandwidth": {
		// Toxiproxy stalls the stream forever on a rate of 0; a timeout toxic
		// says that plainly, so 0 is refused here.
		{"rate", 1, maxRateKBps, func(a *Attributes) *int64 { return &a.Rate }},
	},
	"slow_close": {
		{"delay", 0, maxMillis, func(a *Attributes) *int64 { return &a.Delay }},
	},
	"timeout": {
		{"timeout", 0, maxMillis, func(a *Attributes) *int64 { return &a.Timeout }},
	},
	"reset_peer": {
		{"timeout", 0, maxMillis, func(a *Attributes) *int64 { return &a.Timeout }},
	},
	"slicer": {
		// An average of 0 makes Toxiproxy recurse forever; refused.
		{"average_size", 1, maxSliceSize, func(a *Attributes) *int64 { return &a.AverageSize }},
		{"size_variation", 0, maxSliceSize, func(a *Attributes) *int64 { return &a.SizeVariation }},
		{"delay", 0, maxSlicerDelayMicros, func(a *Attributes) *int64 { return &a.Delay }},
	},
	"limit_data": {
		{"bytes", 0, maxLimitBytes, func(a *Attributes) *int64 { return &a.Bytes }},
	},
}

// defaultAttributes are the values a toxic starts with before the request's
// attributes apply, as Toxiproxy's zero values except where zero is refused.
func defaultAttributes(typ string) Attributes {
	switch typ {
	case "slicer":
		return Attributes{AverageSize: 1}
	case "bandwidth":
		return Attributes{Rate: 1}
	}
	return Attributes{}
}

// Toxic is one fault on a proxy. A Toxic value is never changed once a
// proxy holds it: an update stores a new value with the same id and a
// higher version, so connections notice the change and draw toxicity again.
type Toxic struct {
	Name     string
	Type     string
	Stream   Direction
	Toxicity float64
	Attrs    Attributes
	id       uint64
	version  uint64
}

// toxicJSON is Toxiproxy's wire shape of a toxic.
type toxicJSON struct {
	Attributes map[string]int64 `json:"attributes"`
	Name       string           `json:"name"`
	Type       string           `json:"type"`
	Stream     string           `json:"stream"`
	Toxicity   float64          `json:"toxicity"`
}

// MarshalJSON writes the toxic as Toxiproxy does, with the attributes of
// its type only.
func (t *Toxic) MarshalJSON() ([]byte, error) {
	out := toxicJSON{Attributes: map[string]int64{}, Name: t.Name, Type: t.Type, Stream: t.Stream.String(), Toxicity: t.Toxicity}
	a := t.Attrs
	for _, s := range toxicTypes[t.Type] {
		out.Attributes[s.name] = *s.field(&a)
	}
	return json.Marshal(out)
}

// toxicInput is a create or update request; pointers tell "absent" from zero.
type toxicInput struct {
	Name       *string                    `json:"name"`
	Type       *string                    `json:"type"`
	Stream     *string                    `json:"stream"`
	Toxicity   *float64                   `json:"toxicity"`
	Attributes map[string]json.RawMessage `json:"attributes"`
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value in the body")
	}
	return nil
}

// newToxic builds a toxic from a create request, with Toxiproxy's defaults:
// downstream, toxicity 1, name "<type>_<stream>".
func newToxic(body []byte) (*Toxic, error) {
	var in toxicInput
	if err := decodeStrict(body, &in); err != nil {
		return nil, badBody(err)
	}
	t := &Toxic{Stream: Downstream, Toxicity: 1}
	if in.Type == nil || *in.Type == "" {
		return nil, missingField("type")
	}
	if _, ok := toxicTypes[*in.Type]; !ok {
		return nil, apiErrorf(errInvalidToxicType, "%q; one of %s", *in.Type, typeNames())
	}
	t.Type = *in.Type
	streamName := "downstream"
	if in.Stream != nil && *in.Stream != "" {
		d, err := parseDirection(*in.Stream)
		if err != nil {
			return nil, err
		}
		t.Stream, streamName = d, strings.ToLower(*in.Stream)
	}
	if in.Name != nil && *in.Name != "" {
		t.Name = *in.Name
	} else {
		t.Name = t.Type + "_" + streamName
	}
	if err := checkName("toxic name", t.Name); err != nil {
		return nil, err
	}
	if in.Toxicity != nil {
		t.Toxicity = *in.Toxicity
	}
	if err := checkToxicity(t.Toxicity); err != nil {
		return nil, err
	}
	t.Attrs = defaultAttributes(t.Type)
	if err := applyAttributes(t.Type, &t.Attrs, in.Attributes); err != nil {
		return nil, err
	}
	return t, nil
}

// updated returns a copy of t with an update request applied: attributes
// absent from the request keep their values, as in Toxiproxy.
func (t *Toxic) updated(body []byte) (*Toxic, error) {
	var in toxicInput
	if err := decodeStrict(body, &in); err != nil {
		return nil, badBody(err)
	}
	n := *t
	if in.Toxicity != nil {
		n.Toxicity = *in.Toxicity
	}
	if err := checkToxicity(n.Toxicity); err != nil {
		return nil, err
	}
	if err := applyAttributes(n.Type, &n.Attrs, in.Attributes); err != nil {
		return nil, err
	}
	n.version++
	return &n, nil
}

func checkToxicity(v float64) error {
	if math.IsNaN(v) || v < 0 || v > 1 {
		return apiErrorf(errBadRequestBody, "toxicity %v is outside 0–1 (it is the share of connections the toxic applies to)", v)
	}
	return nil
}

func applyAttributes(typ string, a *Attributes, in map[string]json.RawMessage) error {
	specs := toxicTypes[typ]
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first problem named is the same on every try
	for _, key := range keys {
		raw := in[key]
		var spec *attrSpec
		for j := range specs {
			if specs[j].name == key {
				spec = &specs[j]
			}
		}
		if spec == nil {
			return apiErrorf(errBadRequestBody, "%s has no attribute %q; it takes %s", typ, clip(key), attrNames(typ))
		}
		v, err := parseInt(raw)
		if err != nil {
			return apiErrorf(errBadRequestBody, "%s attribute %s: %v", typ, key, err)
		}
		if v < spec.min || v > spec.max {
			return apiErrorf(errBadRequestBody, "%s attribute %s is %d; it must be between %d and %d", typ, key, v, spec.min, spec.max)
		}
		*spec.field(a) = v
	}
	if typ == "slicer" && a.SizeVariation > a.AverageSize {
		// Toxiproxy cuts pieces outside the chunk (and panics) when the
		// variation exceeds the average.
		return apiErrorf(errBadRequestBody, "slicer size_variation %d is larger than average_size %d; make it at most the average", a.SizeVariation, a.AverageSize)
	}
	return nil
}

// parseInt reads a JSON number that must be a whole number; clients that
// build attributes from floats send 1000 as 1000.0, which is accepted.
func parseInt(raw json.RawMessage) (int64, error) {
	s := strings.TrimSpace(string(raw))
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a number", clip(s))
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%s is not a whole number", clip(s))
	}
	return int64(f), nil
}

// checkName refuses names that cannot travel in a URL path segment or that
// are too long to be a name.
func checkName(what, name string) error {
	if name == "" {
		return missingField("name")
	}
	if len(name) > MaxNameBytes {
		return apiErrorf(errBadRequestBody, "%s is %d bytes long; the limit is %d", what, len(name), MaxNameBytes)
	}
	if !utf8.ValidString(name) {
		return apiErrorf(errBadRequestBody, "%s is not UTF-8", what)
	}
	for _, r := range name {
		if r == '/' || unicode.IsControl(r) || unicode.IsSpace(r) {
			return apiErrorf(errBadRequestBody, "%s %q holds %q; names cannot hold slashes, spaces or control characters", what, name, r)
		}
	}
	return nil
}

func typeNames() string {
	names := make([]string, 0, len(toxicTypes))
	for k := range toxicTypes {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func attrNames(typ string) string {
	var names []string
	for _, s := range toxicTypes[typ] {
		names = append(names, s.name)
	}
	return strings.Join(names, ", ")
}

// clip keeps echoed input short in error messages.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Duration helpers keep the units of Toxiproxy's attributes in one place.
func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
func us(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
