package oncall

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func parseText(text string) ([]Rotation, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, err
	}
	return ParseRotations("services.yaml", &doc)
}

const validRotation = `
rotations:
  - name: payments
    members:
      - {name: ana, site: zurich}
      - {name: ben, site: dublin}
    sites: [zurich, dublin]
    shift: 1w
    handoff: "10:00"
    start: 2026-01-05
    time_zone: Europe/Zurich
    working_hours: {days: [mon, tue, wed, thu], hours: "08:00-18:00"}
    night: "23:00-06:00"
    min_people: 4
    max_incidents_per_shift: 10
    overrides:
      - {member: cem, from: "2026-11-03 09:00", to: "2026-11-04T09:00:00+01:00"}
`

// TestParseRotation reads every field of a rotation.
func TestParseRotation(t *testing.T) {
	rs, err := parseText(validRotation)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("%d rotations", len(rs))
	}
	r := rs[0]
	if r.Name != "payments" || len(r.Members) != 2 || r.Members[1] != (Member{"ben", "dublin"}) || r.Shift.Hours() != 168 ||
		r.Handoff != 600 || r.Start.Format("2006-01-02 MST") != "2026-01-05 CET" || r.Zone.String() != "Europe/Zurich" ||
		r.MinPeople != 4 || r.MaxIncidents != 10 || r.Line != 3 || r.Column != 5 {
		t.Errorf("rotation %+v", r)
	}
	if got := r.Working.String(); got != "mon,tue,wed,thu 08:00-18:00" {
		t.Errorf("working hours %q", got)
	}
	if r.Night == nil || r.Night.String() != "23:00-06:00" {
		t.Errorf("night %v", r.Night)
	}
	if len(r.Overrides) != 1 || r.Overrides[0].From.UTC().Format("15:04") != "08:00" || r.Overrides[0].To.UTC().Format("15:04") != "08:00" {
		t.Errorf("overrides %+v", r.Overrides)
	}
	if rs, err := parseText("services: []\n"); err != nil || rs != nil {
		t.Errorf("a catalog without rotations: %v, %v", rs, err)
	}
}

// TestParseRotationErrors: each mistake is reported where it is, with
// what to write instead.
func TestParseRotationErrors(t *testing.T) {
	base := func(extra string) string {
		return "rotations:\n  - name: p\n    members: [a]\n    shift: 12h\n    handoff: \"09:00\"\n    start: 2026-01-05\n    time_zone: UTC\n" + extra
	}
	for _, c := range []struct {
		name, text, want string
	}{
		{"A rotation with no members is refused where its members are.", strings.Replace(base(""), "[a]", "[]", 1),
			"services.yaml:3:14: rotation \"p\".members: a rotation with no members pages nobody"},
		{"A missing members list is refused at the rotation.", strings.Replace(base(""), "    members: [a]\n", "", 1),
			"services.yaml:2:5: rotation \"p\".members: missing"},
		{"A duplicate rotation names the first.", base("  - {name: p, members: [b], shift: 1d, handoff: '00:00', start: 2026-01-01, time_zone: UTC}\n"),
			"services.yaml:8:12: rotations[1].name: rotation \"p\" is defined twice (first at line 2)"},
		{"A person listed twice is refused.", strings.Replace(base(""), "[a]", "[a, b, a]", 1),
			"services.yaml:3:21: rotation \"p\".members[2]: \"a\" is listed twice"},
		{"A shift too short is refused.", strings.Replace(base(""), "12h", "30m", 1),
			"services.yaml:4:12: rotation \"p\".shift: 30m: want a shift from 1h to 4w"},
		{"A shift that is no duration is refused.", strings.Replace(base(""), "12h", "soon", 1),
			"want a shift length such as 12h"},
		{"An hour past the day is refused.", strings.Replace(base(""), "09:00", "25:00", 1),
			"services.yaml:5:14: rotation \"p\".handoff: \"25:00\": want a time of day from 00:00 to 23:59"},
		{"A zone that is not IANA is refused.", strings.Replace(base(""), "UTC", "Mars/Olympus", 1),
			"services.yaml:7:16: rotation \"p\".time_zone: \"Mars/Olympus\" is not an IANA time zone"},
		{"A start that is no date is refused.", strings.Replace(base(""), "2026-01-05", "tomorrow", 1),
			"services.yaml:6:12: rotation \"p\".start: \"tomorrow\": want a date such as 2026-01-05"},
		{"Working hours across midnight are refused.", base("    working_hours: {hours: \"18:00-02:00\"}\n"),
			"working_hours.hours: \"18:00-02:00\" ends before it starts"},
		{"Unknown days are refused.", base("    working_hours: {days: mon-fry}\n"),
			"working_hours.days: \"mon-fry\": want days such as mon-fri"},
		{"A night from a time to itself is refused.", base("    night: \"22:00-22:00\"\n"),
			"night: \"22:00-22:00\" starts where it ends"},
		{"Members of a multi-site rotation name their site.", base("    sites: [x, y]\n"),
			"rotation \"p\".members[0]: \"a\" names no site: this rotation has sites x, y"},
		{"An override that ends before it starts is refused.", base("    overrides: [{member: b, from: '2026-02-02 10:00', to: '2026-02-02 09:00'}]\n"),
			"overrides[0].to: 2026-02-02 09:00 is not after from"},
		{"An override without a member is refused.", base("    overrides: [{from: '2026-02-02 10:00', to: '2026-02-02 11:00'}]\n"),
			"overrides[0].member: missing"},
		{"An unknown field is refused.", base("    pager: yes\n"),
			"services.yaml:8:5: rotations[0].pager: unknown field"},
		{"A minimum of no people is refused.", base("    min_people: 0\n"),
			"min_people: \"0\": want a whole number of people from 1"},
		{"rotations: must be a list.", "rotations: {a: b}\n",
			"services.yaml:1:12: rotations: want a list of rotations, got a mapping"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseText(c.text)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nwant it to contain %q", err, c.want)
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.File != "services.yaml" {
				t.Errorf("error %v is not a positioned *Error", err)
			}
		})
	}
}

// FuzzParseRotations: no input makes the parser panic, and whatever it
// accepts can answer who is on call.
func FuzzParseRotations(f *testing.F) {
	f.Add(validRotation)
	f.Add("rotations:\n  - {name: p, members: [a], shift: 1h, handoff: '23:59', start: 2199-12-31, time_zone: Pacific/Kiritimati}\n")
	f.Add("rotations: [{name: p, members: [a, {name: b}], shift: 90m, handoff: '02:30', start: 1970-01-01, time_zone: Europe/Berlin, working_hours: {days: sat-mon}}]\n")
	f.Fuzz(func(t *testing.T, text string) {
		rs, err := parseText(text)
		if err != nil {
			return
		}
		for i := range rs {
			r := &rs[i]
			if r.check() != nil {
				t.Fatalf("accepted a rotation that does not check: %+v", r)
			}
			at := r.Boundary(3).Add(time.Minute)
			if who, ok := r.OnCall(at); !ok || who == "" {
				t.Fatalf("nobody on call in shift 3 of %+v", r)
			}
		}
	})
}

// TestParseRotationsNode: the parser takes the rotations: value itself as
// well as the whole document, and refuses a mapping in place of the list.
func TestParseRotationsNode(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(validRotation), &doc); err != nil {
		t.Fatal(err)
	}
	list := doc.Content[0].Content[1]
	if rs, err := ParseRotations("services.yaml", list); err != nil || len(rs) != 1 || rs[0].Line != 3 {
		t.Errorf("from the list: %v, %v", rs, err)
	}
	if rs, err := ParseRotations("services.yaml", nil); err != nil || rs != nil {
		t.Errorf("from nil: %v, %v", rs, err)
	}
	if _, err := ParseRotations("services.yaml", doc.Content[0]); err == nil || !strings.Contains(err.Error(), "services.yaml:2:1: rotations: want a list of rotations, got a mapping") {
		t.Errorf("from the root mapping: %v", err)
	}
}
