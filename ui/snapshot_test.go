package ui

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/ui/snapshot"
)

// noRedirect is a client that shows a redirect instead of following it.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// post sends a form and returns the status, the Location and the body.
func (f *fixture) post(path string, form url.Values, header map[string]string) (int, string, string) {
	f.t.Helper()
	req, err := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// freezeAt freezes checkout-availability's page over a range that
// differs with i, so each freeze is a new snapshot.
func (f *fixture) freezeAt(i int) (int, string, string) {
	f.t.Helper()
	return f.post("/slos/checkout-availability/freeze?range="+strconv.Itoa(i+1)+"h", nil, nil)
}

// TestFreezeIsBounded: past the cap a freeze is refused with 507 and a
// page that says what to do instead; deleting one makes room again.
func TestFreezeIsBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	shelf, err := snapshot.New(f.db, 1)
	if err != nil {
		t.Fatal(err)
	}
	f.ui.cfg.Snapshots = shelf
	code, loc, _ := f.freezeAt(0)
	if code != http.StatusSeeOther {
		t.Fatalf("first freeze: %d", code)
	}
	code, _, body := f.freezeAt(1)
	if code != http.StatusInsufficientStorage || !strings.Contains(body, "at most 1 snapshot,") || !strings.Contains(body, "/snapshots") {
		t.Fatalf("freeze past the cap: %d %s", code, body)
	}
	if code, _, _ := f.post(loc+"/delete", nil, nil); code != http.StatusSeeOther {
		t.Fatalf("delete: %d", code)
	}
	if code, _, _ := f.freezeAt(1); code != http.StatusSeeOther {
		t.Fatalf("freeze after a delete: %d", code)
	}
}

// TestFreezeIsRateLimitedPerClient: a client gets FreezeBurst freezes at
// once, then 429 with Retry-After until its bucket refills.
func TestFreezeIsRateLimitedPerClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	f.ui.freezes = &limiter{burst: 3, every: time.Minute}
	f.ui.cfg.FreezeBurst, f.ui.cfg.FreezeEvery = 3, time.Minute
	for i := range 3 {
		if code, _, _ := f.freezeAt(i); code != http.StatusSeeOther {
			t.Fatalf("freeze %d of the burst: %d", i+1, code)
		}
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/slos/checkout-availability/freeze?range=9h", nil)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" || !strings.Contains(string(body), "3 at once, then one every 1m") {
		t.Fatalf("fourth freeze: %d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	f.clock.Add(time.Minute)
	if code, _, _ := f.freezeAt(10); code != http.StatusSeeOther {
		t.Fatalf("freeze a minute later: %d", code)
	}
}

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	l := &limiter{burst: 2, every: 30 * time.Second}
	f := func(client string, at time.Duration, wantOK bool, wantWait time.Duration) {
		t.Helper()
		ok, wait := l.allow(client, t0.Add(at))
		if ok != wantOK || wait != wantWait {
			t.Errorf("%s at +%s: %v, wait %s; want %v, %s", client, at, ok, wait, wantOK, wantWait)
		}
	}
	f("a", 0, true, 0)
	f("a", 0, true, 0)
	f("a", 0, false, 30*time.Second)
	f("b", 0, true, 0) // another client has its own bucket
	f("a", 15*time.Second, false, 15*time.Second)
	f("a", 30*time.Second, true, 0)
	f("a", 10*time.Minute, true, 0) // refilled to the burst, not beyond
	f("a", 10*time.Minute, true, 0)
	f("a", 10*time.Minute, false, 30*time.Second)
}

func TestLimiterForgetsIdleClients(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	l := &limiter{burst: 1, every: time.Minute}
	for i := range maxClients {
		l.allow("10.0."+string(rune('a'+i%26))+"."+time.Duration(i).String(), t0)
	}
	if ok, _ := l.allow("busy", t0.Add(2*time.Minute)); !ok || len(l.clients) != 1 {
		t.Errorf("after the idle clients refilled: allowed %v, %d buckets kept; want one", ok, len(l.clients))
	}
}

func TestClientOf(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.7:51234":            "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443": "2001:db8:1:2::/64",
		"[::ffff:192.0.2.7]:80":      "192.0.2.7",
		"not an address":             "not an address",
	} {
		if got := clientOf(&http.Request{RemoteAddr: addr}); got != want {
			t.Errorf("clientOf(%q) = %q, want %q", addr, got, want)
		}
	}
}

// TestSnapshotsPageListsAndDeletes: /snapshots lists what is kept, newest
// first, and its Delete form removes one; a cross-site post cannot.
func TestSnapshotsPageListsAndDeletes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	if page := f.get("/snapshots", 200); !strings.Contains(page, "No snapshots kept") {
		t.Errorf("empty snapshots page: %s", page)
	}
	_, first, _ := f.freezeAt(0)
	f.clock.Add(time.Minute)
	_, second, _ := f.freezeAt(1)
	page := f.get("/snapshots", 200)
	i, j := strings.Index(page, `href="`+second+`"`), strings.Index(page, `href="`+first+`"`)
	if i < 0 || j < 0 || i > j || !strings.Contains(page, "2 kept, at most 2,000") {
		t.Fatalf("snapshots page lacks %s before %s: %s", second, first, page)
	}
	if code, _, _ := f.post(first+"/delete", nil, map[string]string{"Origin": "https://evil.example"}); code != http.StatusForbidden {
		t.Errorf("cross-site delete: %d", code)
	}
	if code, loc, _ := f.post(first+"/delete", nil, nil); code != http.StatusSeeOther || loc != "/snapshots" {
		t.Fatalf("delete: %d %q", code, loc)
	}
	f.get(first, 404)
	f.get(second, 200)
	if code, _, _ := f.post(first+"/delete", nil, nil); code != http.StatusNotFound {
		t.Errorf("deleting it again: %d", code)
	}
	if code, _, _ := f.post("/snapshots/..%2F..%2Fx/delete", nil, nil); code != http.StatusNotFound {
		t.Errorf("deleting a malformed ID: %d", code)
	}
}

// TestSnapshotDeleteNeedsTheToken: with a write token, the form must
// carry it or the request its bearer header.
func TestSnapshotDeleteNeedsTheToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	f.ui.cfg.Token = "s3cret"
	_, loc, _ := f.freezeAt(0)
	if page := f.get("/snapshots", 200); !strings.Contains(page, `type="password" name="token"`) {
		t.Errorf("the delete form asks for no token: %s", page)
	}
	for name, c := range map[string]struct {
		form   url.Values
		header map[string]string
	}{
		"no token":         {},
		"a wrong token":    {form: url.Values{"token": {"guess"}}},
		"a wrong bearer":   {header: map[string]string{"Authorization": "Bearer guess"}},
		"the token's head": {form: url.Values{"token": {"s3cre"}}},
	} {
		if code, _, _ := f.post(loc+"/delete", c.form, c.header); code != http.StatusUnauthorized {
			t.Errorf("delete with %s: %d, want 401", name, code)
		}
	}
	f.get(loc, 200)
	if code, _, _ := f.post(loc+"/delete", url.Values{"token": {"s3cret"}}, nil); code != http.StatusSeeOther {
		t.Fatalf("delete with the token in the form: %d", code)
	}
	_, loc, _ = f.freezeAt(1)
	if code, _, _ := f.post(loc+"/delete", nil, map[string]string{"Authorization": "bearer s3cret"}); code != http.StatusSeeOther {
		t.Fatalf("delete with the bearer token: %d", code)
	}
	if !regexp.MustCompile(`^/snapshots/[0-9a-f]{16}$`).MatchString(loc) {
		t.Errorf("snapshot URL %q", loc)
	}
}
