package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody is how much of an answer is read for body checks and captures.
const maxBody = 1 << 20

func (c *Checker) checkHTTP(ctx context.Context, p *Probe, location string, res *Result) {
	h := p.HTTP
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	t := newTracker(cancel, map[string]time.Duration{
		"dns": h.DNSTimeout, "connect": h.ConnectTimeout, "tls": h.TLSTimeout, "firstByte": h.FirstByteTimeout,
	}, res)
	defer t.stop()
	// Only a probe that starts over TLS has a certificate SLO; one that
	// is redirected to https:// is judged by its own SLO alone.
	t.certSeen = !p.HasCert()
	run := newHTTPRun(c, h, t)
	vars := map[string]string{}
	multi := len(h.Steps) > 1
	res.OK = true
	for i, s := range h.Steps {
		sr := run.step(ctx, s, vars, location, res, i)
		res.Steps = append(res.Steps, sr)
		if !sr.OK {
			res.OK = false
			res.Reason = sr.Reason
			if multi {
				res.Reason = "step " + s.Name + ": " + sr.Reason
			}
			return
		}
	}
}

func (run *httpRun) step(ctx context.Context, s *Step, vars map[string]string, location string, res *Result, i int) (sr StepResult) {
	h, t := run.h, run.t
	sr.Name = s.Name
	res.Status = 0 // the status is this step's answer's, or none
	t0 := time.Now()
	defer func() { sr.Latency = time.Since(t0) }()
	u := expand(s.URL, vars, url.QueryEscape)
	if h.CacheBust {
		pu, err := url.Parse(u)
		if err == nil {
			q := pu.Query()
			q.Set(h.CacheBustParam, strconv.FormatInt(time.Now().UnixNano(), 10)+"-"+location+"-"+strconv.Itoa(i))
			pu.RawQuery = q.Encode()
			u = pu.String()
		}
	}
	var body io.Reader
	sbody := expand(s.Body, vars, nil)
	if sbody != "" {
		body = strings.NewReader(sbody)
	}
	req, err := http.NewRequestWithContext(ctx, s.Method, u, body)
	if err != nil {
		sr.Reason = "request: " + shortError(err)
		return sr
	}
	req.Header.Set("User-Agent", "nines-probe")
	for _, kv := range s.Headers {
		v := expand(kv[1], vars, nil)
		if strings.EqualFold(kv[0], "Host") {
			req.Host = v
			continue
		}
		req.Header.Add(kv[0], v)
	}
	if h.CacheBust {
		req.Header.Set("Cache-Control", "no-cache")
		req.Header.Set("Pragma", "no-cache")
	}
	resp, err := run.do(ctx, req, sbody)
	if err != nil {
		sr.Reason = reason(ctx, t, err)
		return sr
	}
	defer resp.Body.Close()
	sr.Status = resp.StatusCode
	res.Status = resp.StatusCode
	t.start("transfer")
	var data []byte
	if s.readsBody() {
		data, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	} else {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	}
	t.end("transfer")
	if err != nil {
		sr.Reason = "reading the body: " + reason(ctx, t, err)
		return sr
	}
	if sr.Reason = judge(&s.Expect, resp.StatusCode, data); sr.Reason != "" {
		return sr
	}
	for _, cp := range s.Capture {
		v, err := capture(cp, resp, data)
		if err != nil {
			sr.Reason = "capture " + cp.Var + ": " + err.Error()
			return sr
		}
		vars[cp.Var] = v
	}
	sr.OK = true
	return sr
}

// readsBody reports whether the step looks at the body it receives.
func (s *Step) readsBody() bool {
	e := &s.Expect
	if e.BodyContains != "" || e.BodyNotContains != "" || e.BodyRegexp != nil || e.BodyNotRegexp != nil {
		return true
	}
	for _, c := range s.Capture {
		if c.Header == "" {
			return true
		}
	}
	return false
}

// tlsConfig is the probe's TLS settings, built once.
func (h *HTTP) tlsConfig() *tls.Config {
	h.tlsOnce.Do(func() {
		h.tls = &tls.Config{RootCAs: h.roots, InsecureSkipVerify: h.TLSInsecure, MinVersion: tls.VersionTLS12}
	})
	return h.tls
}

// expand replaces ${var} with its value, escaped by esc when given.
func expand(s string, vars map[string]string, esc func(string) string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	return refRE.ReplaceAllStringFunc(s, func(m string) string {
		v := vars[m[2:len(m)-1]]
		if esc != nil {
			v = esc(v)
		}
		return v
	})
}

// judge returns why an answer is bad, or "".
func judge(e *Expect, status int, body []byte) string {
	good := false
	for _, r := range e.Status {
		if status >= r.Lo && status <= r.Hi {
			good = true
			break
		}
	}
	switch {
	case !good:
		return "status " + strconv.Itoa(status)
	case e.BodyContains != "" && !bytes.Contains(body, []byte(e.BodyContains)):
		return fmt.Sprintf("body did not contain %q", e.BodyContains)
	case e.BodyRegexp != nil && !e.BodyRegexp.Match(body):
		return "body did not match " + e.BodyRegexp.String()
	case e.BodyNotContains != "" && bytes.Contains(body, []byte(e.BodyNotContains)):
		return fmt.Sprintf("body contained %q", e.BodyNotContains)
	case e.BodyNotRegexp != nil && e.BodyNotRegexp.Match(body):
		return "body matched " + e.BodyNotRegexp.String()
	}
	return ""
}

func capture(c Capture, resp *http.Response, body []byte) (string, error) {
	switch {
	case c.Header != "":
		v := resp.Header.Get(c.Header)
		if v == "" {
			return "", fmt.Errorf("no %s header", c.Header)
		}
		return v, nil
	case c.Regexp != nil:
		m := c.Regexp.FindSubmatch(body)
		if m == nil {
			return "", fmt.Errorf("body did not match %s", c.Regexp)
		}
		return string(m[1]), nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "", errors.New("body is not JSON")
	}
	for _, k := range c.JSONPath {
		switch x := v.(type) {
		case map[string]any:
			if strings.HasPrefix(k, "[") {
				return "", fmt.Errorf("$.%s: an object, not a list", strings.Join(c.JSONPath, "."))
			}
			var ok bool
			if v, ok = x[k]; !ok {
				return "", fmt.Errorf("no %s in the answer", k)
			}
		case []any:
			i, err := strconv.Atoi(strings.TrimPrefix(k, "["))
			if !strings.HasPrefix(k, "[") || err != nil || i >= len(x) {
				return "", fmt.Errorf("no item %s in a list of %d", strings.TrimPrefix(k, "["), len(x))
			}
			v = x[i]
		default:
			return "", fmt.Errorf("nothing under %s", k)
		}
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case nil:
		return "", errors.New("the value is null")
	}
	return "", errors.New("the value is an object or a list, not a value")
}
