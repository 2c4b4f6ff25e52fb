package verify

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	slopkg "github.com/nines-sre/nines/slo"
)

// SLOSpecs writes the two SLOs of each verifier as native spec documents
// (spec.Load reads them), for nines serve to load beside the user's:
//
//   - NAME.durability: every read is an event, good when the bytes match;
//     the objective is the verifier's (default 99.99 %) over a rolling 30
//     days, by transactions (reads are sparse: one bad read among few in a
//     minute must not spend a whole minute). A minute without reads is no
//     data and counts for nothing (noData: skip), and its no-data alert is
//     off: reads come only when objects reach their ages.
//   - NAME.heartbeat: one event per heartbeat, bad while the verifier is
//     failing its canary or cannot reach its target; 99 % over a rolling 7
//     days. Its no-data alert pages after three heartbeats of silence
//     (at least 5 minutes): that is the alert of a verifier that stopped.
//     Its page tiers have no low-traffic guard (minEvents: off): one
//     event a minute is all the traffic it will ever have, and a failing
//     verifier must page on it.
func SLOSpecs(defs []*Definition) []byte {
	var b strings.Builder
	for i, d := range defs {
		if i > 0 {
			b.WriteString("---\n")
		}
		obj := d.Objective
		if obj <= 0 || obj >= 1 {
			obj = DefaultObjective
		}
		silent := max(5*time.Minute, 3*d.Heartbeat)
		fmt.Fprintf(&b, `name: %s
service: %s
description: Reads of sampled objects at their ages; good when the bytes match their SHA-256.
labels: {verifier: %s}
sli:
  good: {ok: true}
objective: %s
method: transactions
window: {rolling: 30d}
noData: skip
alerting:
  noData: off
---
name: %s
service: %s
description: The verifier runs, reaches its target and finds its canaries.
labels: {verifier: %s}
sli:
  good: {ok: true}
objective: 99
method: transactions
window: {rolling: 7d}
noData: skip
alerting:
  minEvents: off
  noData: {after: %s, severity: page}
`, DurabilitySLO(d.Name), d.Name, d.Name, strconv.FormatFloat(obj*100, 'g', 10, 64),
			HeartbeatSLO(d.Name), d.Name, d.Name, slopkg.FormatDuration(silent))
	}
	return []byte(b.String())
}
