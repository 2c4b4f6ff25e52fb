package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/slo"
)

// TestImpactStartAnnotations: a fire that knows when the impact began
// says so in two annotations the incidents receiver passes on; a fire
// that does not, and a resolve, carry neither.
func TestImpactStartAnnotations(t *testing.T) {
	s := *checkout
	s.Window = slo.WindowSpec{Rolling: 30 * 24 * time.Hour}
	tr := fire(t0)
	tr.ImpactStart = t0.Add(-12 * time.Minute)
	an := FromTransition(&s, tr, "").Annotations
	if got := an["impact_start"]; got != "2026-11-25T09:48:00Z" {
		t.Errorf("impact_start = %q, want 2026-11-25T09:48:00Z", got)
	}
	want := "from 2026-11-25 09:48 UTC on, the quanta of checkout-availability burned the error budget faster than its rolling 30d window allows, leading to page-fast at 2026-11-25 10:00 UTC"
	if got := an["impact_reason"]; got != want {
		t.Errorf("impact_reason = %q,\nwant %q", got, want)
	}
	m := slackMessage(&Receiver{Name: "chat", Kind: KindSlack}, &Notification{Alerts: []Alert{FromTransition(&s, tr, "")}})
	if text := m.Blocks[1].Text.Text; !strings.Contains(text, "impact start: 2026-11-25T09:48:00Z") {
		t.Errorf("Slack section %q does not say when the impact started", text)
	}
	for name, tr := range map[string]alert.Transition{"a fire without an impact start": fire(t0), "a resolve": resolve(t0, t0)} {
		if tr.Kind == alert.Resolve {
			tr.ImpactStart = t0.Add(-time.Hour)
		}
		an := FromTransition(&s, tr, "").Annotations
		if _, ok := an["impact_start"]; ok {
			t.Errorf("%s has an impact_start annotation: %v", name, an)
		}
		if _, ok := an["impact_reason"]; ok {
			t.Errorf("%s has an impact_reason annotation: %v", name, an)
		}
	}
}
