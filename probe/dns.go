package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

func (c *Checker) checkDNS(ctx context.Context, p *DNS, res *Result) {
	t := newTracker(nil, nil, res)
	defer t.stop()
	server := p.Server
	if server == "" {
		cc, err := dns.ClientConfigFromFile(c.ResolvConf)
		if err != nil || len(cc.Servers) == 0 {
			res.Reason = "no server given and none in " + c.ResolvConf
			return
		}
		server = net.JoinHostPort(cc.Servers[0], cc.Port)
	}
	m := new(dns.Msg)
	m.SetQuestion(p.Name, p.Type)
	if p.DNSSEC {
		m.SetEdns0(4096, true)
		m.AuthenticatedData = true
	}
	t.start("query")
	cl := &dns.Client{Net: "udp"}
	r, _, err := cl.ExchangeContext(ctx, m, server)
	if err == nil && r.Truncated {
		// The whole answer does not fit a datagram: ask again over TCP.
		cl.Net = "tcp"
		r, _, err = cl.ExchangeContext(ctx, m, server)
	}
	t.end("query")
	if err != nil {
		res.Reason = reason(ctx, t, err)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && !strings.HasPrefix(res.Reason, "timeout") {
			res.Reason = "timeout in query"
		}
		return
	}
	if r.Rcode != p.RCode {
		res.Reason = fmt.Sprintf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[p.RCode])
		return
	}
	if p.DNSSEC && !r.AuthenticatedData {
		res.Reason = "answer not authenticated (no AD flag) by " + server
		return
	}
	var got []string
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == p.Type {
			got = append(got, answerText(rr))
		}
	}
	res.Reason = judgeAnswers(p, got)
	res.OK = res.Reason == ""
}

// judgeAnswers returns why the answers are bad, or "".
func judgeAnswers(p *DNS, got []string) string {
	if len(p.Answers) == 0 {
		if len(got) == 0 && p.RCode == dns.RcodeSuccess {
			return "no " + dns.TypeToString[p.Type] + " answer"
		}
		return ""
	}
	var missing, extra []string
	for _, w := range p.Answers {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(p.Answers, g) {
			extra = append(extra, g)
		}
	}
	switch p.Match {
	case MatchAnyOf:
		if len(missing) == len(p.Answers) {
			return fmt.Sprintf("none of the expected answers; got %s", listOr(got))
		}
	case MatchExactly:
		if len(extra) > 0 {
			return fmt.Sprintf("answer %s not expected", strings.Join(extra, ", "))
		}
		fallthrough
	default:
		if len(missing) > 0 {
			return fmt.Sprintf("answer %s missing; got %s", strings.Join(missing, ", "), listOr(got))
		}
	}
	return ""
}

func listOr(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// answerText is a record's data as probes.yaml writes an expected
// answer: an address, a name, "10 mx.example.com" for MX, the text of a
// TXT record, the primary server of an SOA.
func answerText(rr dns.RR) string {
	switch x := rr.(type) {
	case *dns.A:
		return x.A.String()
	case *dns.AAAA:
		return x.AAAA.String()
	case *dns.CNAME:
		return normAnswer(x.Target)
	case *dns.NS:
		return normAnswer(x.Ns)
	case *dns.PTR:
		return normAnswer(x.Ptr)
	case *dns.MX:
		return fmt.Sprintf("%d %s", x.Preference, normAnswer(x.Mx))
	case *dns.TXT:
		return strings.Join(x.Txt, "")
	case *dns.SOA:
		return normAnswer(x.Ns)
	case *dns.SRV:
		return fmt.Sprintf("%d %d %d %s", x.Priority, x.Weight, x.Port, normAnswer(x.Target))
	}
	h := rr.Header().String()
	return strings.TrimPrefix(rr.String(), h)
}

// normAnswer writes names in one way: lower case, no final dot, and
// addresses in their canonical form.
func normAnswer(s string) string {
	s = strings.TrimSpace(s)
	if ip := net.ParseIP(s); ip != nil {
		return ip.String()
	}
	if pref, name, ok := strings.Cut(s, " "); ok && !strings.Contains(name, " ") && isDigits(pref) {
		return pref + " " + normAnswer(name)
	}
	if strings.Contains(s, " ") {
		return s // TXT: as written
	}
	return strings.ToLower(strings.TrimSuffix(s, "."))
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
