package ingest

import "testing"

// The cache answers every $time_local as parseTimeLocal does, whether the
// line repeats the last time, keeps its date and offset (the time of day
// is read alone), or changes them; and refuses the same bad times.
func TestTimeLocalCacheAgreesWithTheParser(t *testing.T) {
	var c timeLocalCache
	for _, in := range []string{
		"24/Nov/2026:10:20:31 +0000",
		"24/Nov/2026:10:20:31 +0000",
		"24/Nov/2026:10:20:32 +0000",
		"24/Nov/2026:23:59:59 +0000",
		"24/Nov/2026:00:00:00 +0000",
		"24/Nov/2026:24:00:00 +0000",
		"24/Nov/2026:10:60:00 +0000",
		"24/Nov/2026:10:20:6x +0000",
		"24/Nov/2026:10-20:33 +0000",
		"24/Nov/2026:10:20:33 +0000",
		"24/Nov/2026:10:20:34 +0100",
		"24/Nov/2026:10:20:35 -0530",
		"25/Nov/2026:00:00:01 -0530",
		"31/Nov/2026:00:00:01 -0530",
		"29/Feb/2028:12:00:00 +0000",
		"29/Feb/2028:12:00:01 +0000",
		"01/Mar/2028:12:00:01 +0000",
	} {
		got, gotMsg := c.parse([]byte(in))
		want, wantMsg := parseTimeLocal([]byte(in))
		if got != want || (gotMsg == "") != (wantMsg == "") {
			t.Errorf("%s: cache gives %d %q, the parser %d %q", in, got, gotMsg, want, wantMsg)
		}
	}
}
