package incident

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/nines-sre/nines/store"
)

// Limits of what one incident holds. An incident is read and shown
// whole (its page, its postmortem), so each part is bounded: at these
// limits the record is a few megabytes, where 30 MB of timeline text once
// made a 63 MB page. Sizes are in bytes of UTF-8.
const (
	// MaxTitle bounds an incident's and a repair item's title.
	MaxTitle = 300
	// MaxName bounds a name: a service, an owner, a responder, an author,
	// an SLO.
	MaxName = 200
	// MaxGroupKey bounds an alert group key (Alertmanager's run to a few
	// hundred bytes).
	MaxGroupKey = 4 << 10
	// MaxURL bounds a link.
	MaxURL = 2 << 10
	// MaxSummary bounds the summary.
	MaxSummary = 16 << 10
	// MaxEntryText bounds one timeline entry's text.
	MaxEntryText = 16 << 10
	// MaxTimelineText bounds the text of all timeline entries together,
	// and MaxEntries their number.
	MaxTimelineText = 1 << 20
	MaxEntries      = 5000
	// MaxPostmortem bounds the stored postmortem.
	MaxPostmortem = 1 << 20
	// MaxServices, MaxSLOs, MaxLinks, MaxResponders and MaxRepairs bound
	// the lists of an incident.
	MaxServices   = 32
	MaxSLOs       = 64
	MaxLinks      = 64
	MaxResponders = 64
	MaxRepairs    = 100
)

// CheckTimes returns an error for every time of inc outside the range of
// times nines stores (store.CheckTime), each wrapping ErrInvalid and
// store.ErrTimeRange: its five timestamps (zero is absent), Created and
// Updated, the times of its timeline entries, of its responders'
// paging, of its repair items and of its budget burned. A store calls it
// before writing an incident, since times are kept as Unix nanoseconds,
// which wrap around outside 1677–2262.
func (inc *Incident) CheckTimes() error {
	var errs []error
	check := func(what string, t time.Time, optional bool) {
		if optional && t.IsZero() {
			return
		}
		if err := store.CheckTime(what, t); err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrInvalid, err))
		}
	}
	for _, st := range inc.stamps() {
		check(st.name, st.t, true)
	}
	check("created", inc.Created, false)
	check("updated", inc.Updated, false)
	for i, e := range inc.Timeline {
		check(fmt.Sprintf("timeline[%d].at", i), e.At, false)
	}
	for i, r := range inc.Responders {
		check(fmt.Sprintf("responders[%d].paged", i), r.Paged, true)
	}
	for i := range inc.Repairs {
		r := &inc.Repairs[i]
		check(fmt.Sprintf("repairs[%d].created", i), r.Created, false)
		check(fmt.Sprintf("repairs[%d].due", i), r.Due, true)
		check(fmt.Sprintf("repairs[%d].closed", i), r.Closed, true)
	}
	if err := CheckBurnTimes(inc.Burn); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CheckBurnTimes is CheckTimes for budget burned (Store.SetBurns).
func CheckBurnTimes(burns []Burn) error {
	var errs []error
	for i, b := range burns {
		for _, t := range []struct {
			what string
			t    time.Time
		}{{"from", b.From}, {"to", b.To}} {
			if err := store.CheckTime(fmt.Sprintf("budget_burned[%d].%s", i, t.what), t.t); err != nil {
				errs = append(errs, fmt.Errorf("%w: %w", ErrInvalid, err))
			}
		}
	}
	return errors.Join(errs...)
}

// checkTime returns an ErrInvalid error, naming what, unless t is in the
// range of times nines stores. The zero time too is refused: where a
// time is optional, the caller decides what its absence means before
// asking.
func checkTime(what string, t time.Time) error {
	if err := store.CheckTime(what, t); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// limit is one size of an incident checked against its bound.
type limit struct {
	what      string
	n, max    int
	unit, fix string
}

func (l limit) err() error {
	if l.n <= l.max {
		return nil
	}
	return fmt.Errorf("%w: %s: %d %s, over the limit of %d; %s", ErrInvalid, l.what, l.n, l.unit, l.max, l.fix)
}

// checkLimits returns an error for every part of inc over its limit that
// was not over it already in prev (what was stored before the change;
// nil for a new incident): an incident stored before a limit existed
// stays editable, and keeps what it has, but does not grow past it. The
// timeline is checked by addEntries.
func (inc *Incident) checkLimits(prev *Incident) error {
	if prev == nil {
		prev = &Incident{}
	}
	shorten := "shorten it"
	var ls []limit
	add := func(what string, n, was, max int, unit, fix string) {
		if n > max && n > was {
			ls = append(ls, limit{what, n, max, unit, fix})
		}
	}
	add("title", len(inc.Title), len(prev.Title), MaxTitle, "bytes", shorten)
	add("summary", len(inc.Summary), len(prev.Summary), MaxSummary, "bytes", "shorten it, or link to a document")
	add("owner", len(inc.Owner), len(prev.Owner), MaxName, "bytes", shorten)
	add("group key", len(inc.GroupKey), len(prev.GroupKey), MaxGroupKey, "bytes", shorten)
	add("postmortem", len(inc.Postmortem), len(prev.Postmortem), MaxPostmortem, "bytes", "shorten it, or link to a document")
	add("services", len(inc.Services), len(prev.Services), MaxServices, "services", "name the services most affected")
	add("slos", len(inc.SLOs), len(prev.SLOs), MaxSLOs, "SLOs", "link the SLOs most affected")
	add("links", len(inc.Links), len(prev.Links), MaxLinks, "links", "link an index page instead")
	add("responders", len(inc.Responders), len(prev.Responders), MaxResponders, "responders", "list those who paged or engaged")
	add("repairs", len(inc.Repairs), len(prev.Repairs), MaxRepairs, "repair items", "track the rest in your tracker and link it")
	names := func(what string, vs, was []string) {
		for i, v := range vs {
			if len(v) > MaxName && (i >= len(was) || was[i] != v) {
				ls = append(ls, limit{fmt.Sprintf("%s[%d]", what, i), len(v), MaxName, "bytes", shorten})
			}
		}
	}
	names("services", inc.Services, prev.Services)
	names("slos", inc.SLOs, prev.SLOs)
	for i, r := range inc.Responders {
		if len(r.Name) > MaxName && !containsResponder(prev.Responders, r.Name) {
			ls = append(ls, limit{fmt.Sprintf("responders[%d].name", i), len(r.Name), MaxName, "bytes", shorten})
		}
	}
	for i, l := range inc.Links {
		if i < len(prev.Links) && prev.Links[i] == l {
			continue
		}
		ls = append(ls, limit{fmt.Sprintf("links[%d].title", i), len(l.Title), MaxTitle, "bytes", shorten},
			limit{fmt.Sprintf("links[%d].url", i), len(l.URL), MaxURL, "bytes", "link a shorter address"})
	}
	var errs []error
	for _, l := range ls {
		if err := l.err(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func containsResponder(rs []Responder, name string) bool {
	for _, r := range rs {
		if r.Name == name {
			return true
		}
	}
	return false
}

// checkRepair returns an error for every part of a repair item over its
// limit.
func checkRepair(r *RepairItem) error {
	var errs []error
	for _, l := range []limit{
		{"repair item title", len(r.Title), MaxTitle, "bytes", "shorten it"},
		{"repair item owner", len(r.Owner), MaxName, "bytes", "shorten it"},
		{"repair item link", len(r.Link), MaxURL, "bytes", "link a shorter address"},
	} {
		if err := l.err(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkEntry returns an error if one timeline entry is over its limits
// or its time is outside the range of times nines stores.
func checkEntry(e *Entry) error {
	errs := []error{
		limit{"timeline entry text", len(e.Text), MaxEntryText, "bytes", "shorten it, or link to a document"}.err(),
		limit{"timeline entry author", len(e.Author), MaxName, "bytes", "shorten it"}.err(),
		checkTime("timeline entry time", e.At),
	}
	return errors.Join(errs...)
}

// timelineRoom reports whether the timeline of inc takes entries of n
// more bytes of text, and if not, why.
func (inc *Incident) timelineRoom(entries, text int) error {
	used := 0
	for i := range inc.Timeline {
		used += len(inc.Timeline[i].Text)
	}
	switch {
	case len(inc.Timeline)+entries > MaxEntries:
		return fmt.Errorf("%w: incident %d: the timeline holds %d entries, the limit is %d; summarise in the postmortem",
			ErrInvalid, inc.ID, len(inc.Timeline), MaxEntries)
	case used+text > MaxTimelineText:
		return fmt.Errorf("%w: incident %d: the timeline holds %d bytes of text, %d more would pass the limit of %d; summarise in the postmortem",
			ErrInvalid, inc.ID, used, text, MaxTimelineText)
	}
	return nil
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut
// with an ellipsis: for text nines writes from an alert, which must not
// fail the alert for being long.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
