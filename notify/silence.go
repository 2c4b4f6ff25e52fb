package notify

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nines-sre/nines/store"
)

// Silence mutes firing alerts its matchers select between StartsAt and
// EndsAt. Resolves of alerts already notified still go out: whoever was
// paged should hear that it ended.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  Matchers  `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
	CreatedAt time.Time `json:"createdAt"`
}

// Active reports whether the silence mutes alerts at now.
func (s *Silence) Active(now time.Time) bool {
	return !now.Before(s.StartsAt) && now.Before(s.EndsAt)
}

// State is "pending", "active" or "expired" at now.
func (s *Silence) State(now time.Time) string {
	switch {
	case now.Before(s.StartsAt):
		return "pending"
	case now.Before(s.EndsAt):
		return "active"
	}
	return "expired"
}

// Limits of a silence.
const (
	maxSilenceMatchers = 32
	maxSilenceText     = 1024
	// MaxSilence bounds how long one silence lasts: a forgotten silence
	// is an outage nobody hears of.
	MaxSilence = 90 * 24 * time.Hour
)

// ErrInvalidSilence marks a silence that cannot be created.
var ErrInvalidSilence = errors.New("invalid silence")

// Validate checks a silence about to be created at now.
func (s *Silence) Validate(now time.Time) error {
	var errs []error
	if len(s.Matchers) == 0 {
		errs = append(errs, errors.New("no matchers: a silence must say what it mutes (slo=NAME, service=NAME, …)"))
	}
	if len(s.Matchers) > maxSilenceMatchers {
		errs = append(errs, fmt.Errorf("%d matchers: at most %d", len(s.Matchers), maxSilenceMatchers))
	}
	for _, m := range s.Matchers {
		if (m.Op == MatchRegexp || m.Op == MatchNotRegexp) && m.re == nil {
			errs = append(errs, fmt.Errorf("matcher %s was not compiled", m))
		}
	}
	// As Alertmanager requires, at least one matcher must not match the
	// empty value: otherwise the silence mutes alerts that lack every
	// label it names, that is everything.
	if len(s.Matchers) > 0 && s.Matchers.Matches(map[string]string{}) {
		errs = append(errs, fmt.Errorf("matchers %s match alerts without those labels too; a silence that mutes everything is refused", matcherText(s.Matchers)))
	}
	for _, t := range []struct {
		name string
		t    time.Time
	}{{"startsAt", s.StartsAt}, {"endsAt", s.EndsAt}} {
		if !t.t.IsZero() {
			if err := store.CheckTime(t.name, t.t); err != nil {
				errs = append(errs, err)
			}
		}
	}
	switch {
	case s.EndsAt.IsZero():
		errs = append(errs, errors.New("no end: give endsAt or a duration"))
	case !s.EndsAt.After(now):
		errs = append(errs, fmt.Errorf("endsAt %s is in the past", s.EndsAt.Format(time.RFC3339)))
	case !s.EndsAt.After(s.StartsAt):
		errs = append(errs, fmt.Errorf("endsAt %s is not after startsAt %s", s.EndsAt.Format(time.RFC3339), s.StartsAt.Format(time.RFC3339)))
	case s.EndsAt.Sub(s.StartsAt) > MaxSilence:
		errs = append(errs, fmt.Errorf("lasts %s: at most 90 days", s.EndsAt.Sub(s.StartsAt).Round(time.Minute)))
	}
	if strings.TrimSpace(s.CreatedBy) == "" {
		errs = append(errs, errors.New("createdBy is empty: say who silences"))
	}
	if len(s.Comment) > maxSilenceText || len(s.CreatedBy) > maxSilenceText {
		errs = append(errs, fmt.Errorf("comment or createdBy longer than %d bytes", maxSilenceText))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSilence, err)
	}
	return nil
}

// Mutes reports whether the silence mutes an alert with labels at now.
func (s *Silence) Mutes(labels map[string]string, now time.Time) bool {
	return s.Active(now) && s.Matchers.Matches(labels)
}

// UnmarshalJSON reads a matcher written as text (`slo="checkout"`) or as
// {"name", "op", "value"}, and compiles it.
func (m *Matcher) UnmarshalJSON(b []byte) error {
	var text string
	if json.Unmarshal(b, &text) == nil {
		mm, err := ParseMatcher(text)
		if err != nil {
			return err
		}
		*m = mm
		return nil
	}
	var raw struct {
		Name  string  `json:"name"`
		Op    MatchOp `json:"op"`
		Value string  `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("matcher: want \"name=value\" or {\"name\", \"op\", \"value\"}: %v", err)
	}
	if raw.Op == "" {
		raw.Op = MatchEqual
	}
	mm, err := NewMatcher(raw.Name, raw.Op, raw.Value)
	if err != nil {
		return err
	}
	*m = mm
	return nil
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
