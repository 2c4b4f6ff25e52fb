package incident

import "fmt"

// Bounds of what an incident holds. Every page and report that shows the
// incident carries all of it: 30 MB of timeline text once made an
// incident page of 63 MB. The bounds are far above what people write
// (the postmortem's own is 1 MiB), and a flapping alert that attaches to
// an incident for days adds short entries well within them.
const (
	maxTitle         = 500      // bytes of a title (incident, repair item, link)
	maxName          = 200      // bytes of an owner, author, responder name
	maxSummary       = 16 << 10 // bytes of a summary
	maxEntryText     = 8 << 10  // bytes of one timeline entry
	maxTimelineText  = 2 << 20  // bytes of all timeline entries together
	maxEntries       = 5000     // timeline entries
	maxItems         = 200      // responders, links, repair items, services and SLOs, each
	maxGroupKeyBytes = 4096     // an Alertmanager group key names its labels
)

// checkSizes bounds an incident's texts and lists; anything over a bound
// is refused (ErrInvalid), never cut.
func checkSizes(inc *Incident) error {
	over := func(what string, n, limit int) error {
		return fmt.Errorf("%w: %s of %d; at most %d", ErrInvalid, what, n, limit)
	}
	for _, c := range []struct {
		what     string
		n, limit int
	}{
		{"title bytes", len(inc.Title), maxTitle},
		{"summary bytes", len(inc.Summary), maxSummary},
		{"owner bytes", len(inc.Owner), maxName},
		{"group key bytes", len(inc.GroupKey), maxGroupKeyBytes},
		{"timeline entries", len(inc.Timeline), maxEntries},
		{"responders", len(inc.Responders), maxItems},
		{"links", len(inc.Links), maxItems},
		{"repair items", len(inc.Repairs), maxItems},
		{"services", len(inc.Services), maxItems},
		{"SLOs", len(inc.SLOs), maxItems},
	} {
		if c.n > c.limit {
			return over(c.what, c.n, c.limit)
		}
	}
	total := 0
	for i, e := range inc.Timeline {
		if len(e.Text) > maxEntryText {
			return over(fmt.Sprintf("timeline entry %d: text bytes", i+1), len(e.Text), maxEntryText)
		}
		if len(e.Author) > maxName {
			return over(fmt.Sprintf("timeline entry %d: author bytes", i+1), len(e.Author), maxName)
		}
		total += len(e.Text)
	}
	if total > maxTimelineText {
		return over("bytes of timeline text", total, maxTimelineText)
	}
	for _, r := range inc.Responders {
		if len(r.Name) > maxName {
			return over("responder name bytes", len(r.Name), maxName)
		}
	}
	for _, l := range inc.Links {
		if len(l.Title) > maxTitle {
			return over("link title bytes", len(l.Title), maxTitle)
		}
	}
	for _, r := range inc.Repairs {
		if len(r.Title) > maxTitle {
			return over("repair item title bytes", len(r.Title), maxTitle)
		}
		if len(r.Owner) > maxName {
			return over("repair item owner bytes", len(r.Owner), maxName)
		}
	}
	return nil
}
