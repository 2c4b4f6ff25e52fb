package ingest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sent is what a rendered line says: the event parts a parser must read
// back, and the latency as the server wrote it.
type sent struct {
	t       time.Time
	status  int
	latency float64 // seconds; NaN when the line has none
}

// piece renders one variable or directive of a format string for an
// event; a literal piece ignores the event.
type piece func(r *rand.Rand, s *sent) string

func lit(text string) piece { return func(*rand.Rand, *sent) string { return text } }

// randomText is request-line, referer or user-agent text: any printable
// ASCII, quotes and backslashes included, so that the parser must honour
// the server's escaping to find where a quoted field ends.
func randomText(r *rand.Rand) string {
	const alphabet = ` abcdefghijklmnopqrstuvwxyz/ABC?=&%-_.:;"\'()[]{}$0123456789`
	n := r.IntN(40)
	b := make([]byte, n)
	for k := range b {
		b[k] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// nginxEscape escapes as nginx's escape=default does: ", \ and bytes
// outside printable ASCII as \xHH.
func nginxEscape(s string) string {
	var b strings.Builder
	for k := 0; k < len(s); k++ {
		c := s[k]
		if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
			fmt.Fprintf(&b, `\x%02X`, c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// jsonEscape escapes as nginx's escape=json does.
func jsonEscape(s string) string {
	q := strconv.Quote(s) // printable ASCII: only " and \ are escaped
	return q[1 : len(q)-1]
}

// apacheEscape escapes as mod_log_config does: \" and \\.
func apacheEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

func quotedText(escape func(string) string) piece {
	return func(r *rand.Rand, _ *sent) string { return `"` + escape(randomText(r)) + `"` }
}

func requestLine(escape func(string) string) piece {
	return func(r *rand.Rand, _ *sent) string {
		return `"` + []string{"GET", "POST", "PUT"}[r.IntN(3)] + " /" + escape(randomText(r)) + ` HTTP/1.1"`
	}
}

var (
	pAddr = func(r *rand.Rand, _ *sent) string {
		return fmt.Sprintf("%d.%d.%d.%d", r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256))
	}
	pUser = func(r *rand.Rand, _ *sent) string {
		if r.IntN(2) == 0 {
			return "-"
		}
		return "user" + strconv.Itoa(r.IntN(100))
	}
	pBytes = func(r *rand.Rand, _ *sent) string {
		if r.IntN(5) == 0 {
			return "-"
		}
		return strconv.Itoa(r.IntN(1 << 20))
	}
	pStatus = func(_ *rand.Rand, s *sent) string { return strconv.Itoa(s.status) }
	// pTimeLocal writes [$time_local] or %t in a random zone.
	pTimeLocal = func(r *rand.Rand, s *sent) string {
		zone := time.FixedZone("", (r.IntN(27)-12)*3600+[]int{0, 1800, 2700}[r.IntN(3)])
		return s.t.In(zone).Format("02/Jan/2006:15:04:05 -0700")
	}
	pISO = func(r *rand.Rand, s *sent) string {
		zone := time.FixedZone("", (r.IntN(27)-12)*3600)
		return s.t.In(zone).Format("2006-01-02T15:04:05-07:00")
	}
	pMsec = func(_ *rand.Rand, s *sent) string {
		ms := s.t.UnixMilli()
		return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
	}
	// pRequestTime writes $request_time: seconds with milliseconds.
	pRequestTime = func(_ *rand.Rand, s *sent) string { return strconv.FormatFloat(s.latency, 'f', 3, 64) }
	// pUpstream writes $upstream_response_time: a list when the request
	// went to several upstreams, "-" when it went to none.
	pUpstream = func(r *rand.Rand, _ *sent) string {
		switch r.IntN(3) {
		case 0:
			return "-"
		case 1:
			return fmt.Sprintf("%.3f", r.Float64())
		}
		return fmt.Sprintf("%.3f, %.3f : %.3f", r.Float64(), r.Float64(), r.Float64())
	}
	pMicros = func(_ *rand.Rand, s *sent) string { return strconv.FormatInt(int64(math.Round(s.latency*1e6)), 10) }
	pMillis = func(_ *rand.Rand, s *sent) string { return strconv.FormatInt(int64(math.Round(s.latency*1e3)), 10) }
)

// roundTrips are format strings with a renderer of their lines: piece by
// piece, what the server writes for each variable or directive.
var roundTrips = []struct {
	name, format string
	pieces       []piece
	precision    time.Duration // of the times the format writes
}{
	{
		"nginx combined with $request_time and $upstream_response_time",
		`nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $upstream_response_time`,
		[]piece{pAddr, lit(" - "), pUser, lit(" ["), pTimeLocal, lit("] "), requestLine(nginxEscape), lit(" "), pStatus, lit(" "), pBytes,
			lit(" "), quotedText(nginxEscape), lit(" "), quotedText(nginxEscape), lit(" "), pRequestTime, lit(" "), pUpstream},
		time.Second,
	},
	{
		"nginx with $msec first and $time_iso8601 nowhere",
		`nginx:$msec $status $request_time "$http_user_agent" $host`,
		[]piece{pMsec, lit(" "), pStatus, lit(" "), pRequestTime, lit(" "), quotedText(nginxEscape), lit(" example.com")},
		time.Millisecond,
	},
	{
		"nginx escape=json writing a JSON object",
		`nginx:escape=json '{"time":"$time_iso8601","status":$status,"rt":$request_time,"ua":"$http_user_agent"}'`,
		[]piece{lit(`{"time":"`), pISO, lit(`","status":`), pStatus, lit(`,"rt":`), pRequestTime, lit(`,"ua":"`),
			func(r *rand.Rand, _ *sent) string { return jsonEscape(randomText(r)) }, lit(`"}`)},
		time.Second,
	},
	{
		"Apache combined with %D",
		`apache:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D`,
		[]piece{pAddr, lit(" - "), pUser, lit(" ["), pTimeLocal, lit("] "), requestLine(apacheEscape), lit(" "), pStatus, lit(" "), pBytes,
			lit(" "), quotedText(apacheEscape), lit(" "), quotedText(apacheEscape), lit(" "), pMicros},
		time.Second,
	},
	{
		"Apache with a strftime %{...}t and %{ms}T",
		`apache:%{%Y-%m-%d %H:%M:%S %z}t %>s %{ms}T "%r"`,
		[]piece{func(r *rand.Rand, s *sent) string {
			return s.t.In(time.FixedZone("", (r.IntN(27)-12)*3600)).Format("2006-01-02 15:04:05 -0700")
		}, lit(" "), pStatus, lit(" "), pMillis, lit(" "), requestLine(apacheEscape)},
		time.Second,
	},
}

// A line rendered from a format string, with random values in every
// field and random text in the quoted ones, reads back to the time,
// status and latency it was rendered from.
func TestFormatStringsReadBackTheLinesTheyRender(t *testing.T) {
	for _, rt := range roundTrips {
		t.Run(rt.name, func(t *testing.T) {
			p, err := NewParser(Config{Format: rt.format})
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(12, uint64(len(rt.format))))
			for range 2000 {
				ms := r.Int64N(int64(130*365*24*time.Hour/time.Millisecond)) + 946684800000 // 2000 to 2130
				s := sent{
					t:       time.UnixMilli(ms).UTC().Truncate(rt.precision),
					status:  100 + r.IntN(500),
					latency: float64(r.IntN(60_000_000)) / 1e6,
				}
				var line strings.Builder
				for _, pc := range rt.pieces {
					line.WriteString(pc(r, &s))
				}
				e, err := p.Parse([]byte(line.String()))
				if err != nil {
					t.Fatalf("%s\n  does not read back: %v", line.String(), err)
				}
				if e.Time != s.t.UnixNano() || e.Status != s.status {
					t.Fatalf("%s\n  reads back as time %s status %d; want %s %d", line.String(),
						time.Unix(0, e.Time).UTC().Format(time.RFC3339Nano), e.Status, s.t.Format(time.RFC3339Nano), s.status)
				}
				want := wantLatency(rt.format, s.latency)
				if math.Abs(e.Latency-want) > 1e-9 {
					t.Fatalf("%s\n  reads back latency %v; want %v", line.String(), e.Latency, want)
				}
			}
		})
	}
}

// wantLatency is the latency a format writes for l seconds: %D in whole
// microseconds, %{ms}T in whole milliseconds, the rest in milliseconds.
func wantLatency(format string, l float64) float64 {
	switch {
	case strings.Contains(format, "%D"):
		return math.Round(l*1e6) / 1e6
	case strings.Contains(format, "%{ms}T"):
		return math.Round(l*1e3) / 1e3
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(l, 'f', 3, 64), 64)
	return v
}
